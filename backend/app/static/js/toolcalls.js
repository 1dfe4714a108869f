// A tool call `{name, arguments, result}` as a sentence a person reads ("Added *Buy milk*",
// "Listed 3 pending tasks"), with the arguments and result inside a disclosure for whoever
// wants to see exactly what the assistant did.

import { el, plural } from "./dom.js";

const STATUS_WORDS = { pending: "pending ", completed: "completed ", all: "" };

/** `[text, emphasised title or null, text]` pieces of the sentence (titles are data, not HTML). */
function sentenceOf(call) {
  const args = call.arguments ?? {};
  const result = call.result ?? {};
  const error = result && typeof result === "object" && !Array.isArray(result) ? result.error : null;
  const id = args.task_id ?? result.task_id;
  const title = typeof result.title === "string" ? result.title : null;
  const task = (prefix) => (title !== null ? [prefix, title] : [`${prefix}task ${id}`]);
  if (error) {
    const verb = {
      add_task: "add the task",
      list_tasks: "list the tasks",
      complete_task: `complete task ${id}`,
      delete_task: `delete task ${id}`,
      update_task: `update task ${id}`,
    }[call.name] ?? `use ${call.name}`;
    return [`Could not ${verb}: ${error}`];
  }
  switch (call.name) {
    case "add_task":
      return ["Added ", title ?? args.title ?? "a task"];
    case "list_tasks": {
      const count = Array.isArray(result) ? result.length : 0;
      const status = STATUS_WORDS[args.status ?? "all"] ?? "";
      return [`Listed ${plural(count, `${status}task`, `${status}tasks`)}`];
    }
    case "complete_task":
      return title !== null ? ["Completed ", title] : [`Completed task ${id}`];
    case "delete_task":
      return task("Deleted ");
    case "update_task":
      return task("Updated ");
    default:
      return [`Used ${call.name}`];
  }
}

function pretty(value) {
  return JSON.stringify(value ?? null, null, 2);
}

/** `<details>`: the sentence as its summary; arguments and result as JSON inside. */
export function renderToolCall(call) {
  const [before, title] = sentenceOf(call);
  const summary = el("summary", { className: "tool-summary" }, before);
  if (title) summary.append(el("em", { text: title }));
  const failed = call.result && typeof call.result === "object" && "error" in call.result;
  const details = el(
    "details",
    { className: `tool-call${failed ? " failed" : ""}`, attrs: { "data-tool": call.name } },
    summary,
    el(
      "dl",
      {},
      el("dt", { text: "Tool" }),
      el("dd", {}, el("code", { className: "tool-name", text: call.name })),
      el("dt", { text: "Arguments" }),
      el("dd", {}, el("pre", { text: pretty(call.arguments) })),
      el("dt", { text: "Result" }),
      el("dd", {}, el("pre", { text: pretty(call.result) })),
    ),
  );
  return details;
}
