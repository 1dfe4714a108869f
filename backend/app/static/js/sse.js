// Reading Server-Sent Events from a `fetch()` response. EventSource cannot POST or send an
// Authorization header, so the chat page reads `text/event-stream` bodies itself.

/**
 * Yield the events of a `text/event-stream` body as `{ id, name, data }`, data parsed from
 * JSON. An event is a block of `field: value` lines ended by a blank line:
 *
 *     id: 3
 *     event: delta
 *     data: {"text": "Added \"Buy "}
 *
 * `id` is the event's number within its turn (what `Last-Event-ID` sends back to resume).
 * Lines starting with ":" are comments (the server's keep-alives) and are skipped.
 */
export async function* readServerSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseServerSentEvent(block);
        if (event) yield event;
      }
    }
  } finally {
    reader.cancel().catch(() => {}); // the reader stopped early (a `break`): hang up
  }
}

function parseServerSentEvent(block) {
  let name = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  return data.length ? { id, name, data: JSON.parse(data.join("\n")) } : null;
}
