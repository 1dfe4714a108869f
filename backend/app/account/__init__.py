"""Your data: the whole account as one download, and the account's deletion."""
