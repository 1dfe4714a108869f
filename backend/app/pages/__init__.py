"""The built-in chat page: `/` and its static assets under `/static`."""
