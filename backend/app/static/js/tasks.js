// The task list: `GET /api/{user_id}/tasks` with a status filter and, on servers whose tasks
// have them, due dates, priorities, tags and a sort order. A task without those fields (an
// older server) is shown as before: the extras simply do not appear.

import { ApiError, api, userPath } from "./api.js";
import { $, el } from "./dom.js";
import { reportError } from "./notice.js";
import { TASK_VIEW_KEY } from "./state.js";
import { daysFromToday, formatClock, formatDay, formatFull } from "./when.js";

const PRIORITY_WORDS = { high: "High priority", low: "Low priority" };

// How the list is shown: {status: all|pending|completed, sort: created|due|priority, tag}.
const view = { status: "all", sort: "created", tag: null };
try {
  Object.assign(view, JSON.parse(sessionStorage.getItem(TASK_VIEW_KEY) ?? "{}"));
} catch {
  // a damaged value: the defaults do
}
let loads = 0; // bumped by each load, so a late answer for an older view is dropped

function saveView() {
  sessionStorage.setItem(TASK_VIEW_KEY, JSON.stringify(view));
}

/** `GET /api/{user_id}/tasks?status=&sort=&tag=` → the tasks, in the order asked for. */
export async function loadTasks() {
  const load = (loads += 1);
  const query = new URLSearchParams({ status: view.status });
  if (view.sort !== "created") query.set("sort", view.sort);
  if (view.tag) query.set("tag", view.tag);
  try {
    const tasks = await api("GET", userPath(`/tasks?${query}`));
    if (load !== loads) return;
    $("task-list").replaceChildren(...tasks.map(renderTask));
    $("tasks-empty").hidden = tasks.length > 0;
    $("tasks-empty").textContent = view.status === "all" && !view.tag
      ? "No tasks yet."
      : "No tasks match.";
    // Sorting by due date or priority makes sense only where tasks have them.
    if (tasks.some((task) => "priority" in task)) $("task-sort-field").hidden = false;
    showTagFilter();
  } catch (error) {
    if (load === loads) reportError(error);
  }
}

export function wireTaskControls() {
  $("task-status").value = view.status;
  $("task-sort").value = view.sort;
  $("task-status").addEventListener("change", () => {
    view.status = $("task-status").value;
    saveView();
    loadTasks();
  });
  $("task-sort").addEventListener("change", () => {
    view.sort = $("task-sort").value;
    saveView();
    loadTasks();
  });
  $("task-tag-clear").addEventListener("click", () => filterByTag(null));
  $("refresh-tasks").addEventListener("click", () => loadTasks());
}

function filterByTag(tag) {
  view.tag = tag;
  saveView();
  loadTasks();
  if (!tag) $("task-status").focus();
}

function showTagFilter() {
  $("task-tag-filter").hidden = !view.tag;
  $("task-tag-name").textContent = view.tag ? `#${view.tag}` : "";
}

/** When a task is due, in words: "Due Today 15:00", "Overdue · Mon 12 Dec" (a date-only due at day's end). */
function dueBadge(task) {
  const due = new Date(task.due_at);
  if (Number.isNaN(due.getTime())) return null;
  const endOfDay = due.getHours() === 23 && due.getMinutes() === 59;
  const when = endOfDay ? formatDay(due) : `${formatDay(due)} ${formatClock(due)}`;
  const overdue = !task.completed && due < new Date();
  const soon = !overdue && !task.completed && daysFromToday(due) <= 1;
  const badge = el("span", {
    className: `badge due${overdue ? " overdue" : soon ? " soon" : ""}`,
    title: formatFull(due),
  });
  badge.append(el("time", { dateTime: task.due_at, text: overdue ? `Overdue · ${when}` : `Due ${when}` }));
  return badge;
}

/** A task with a checkbox; ticking it calls `PATCH .../tasks/{id}/complete` (a toggle). */
function renderTask(task) {
  const item = el("li", { attrs: { "data-id": String(task.id) } });
  item.classList.toggle("completed", task.completed);
  if (task.priority === "high") item.classList.add("high");
  const box = el("input", { type: "checkbox", checked: task.completed });
  const title = el("span", { className: "task-title", text: task.title });
  if (task.description) {
    title.append(el("span", { className: "task-description", text: task.description }));
  }
  const label = el("label", {}, box, title, el("span", { className: "task-id", text: `#${task.id}` }));
  item.append(label);

  const meta = el("div", { className: "task-meta" });
  if (task.due_at) meta.append(dueBadge(task) ?? "");
  if (PRIORITY_WORDS[task.priority]) {
    meta.append(el("span", { className: `badge priority ${task.priority}`, text: PRIORITY_WORDS[task.priority] }));
  }
  if (task.recurrence) {
    meta.append(el("span", { className: "badge", text: "Repeats", title: task.recurrence }));
  }
  for (const tag of Array.isArray(task.tags) ? task.tags : []) {
    const chip = el("button", {
      type: "button",
      className: "tag",
      text: `#${tag}`,
      attrs: { "aria-label": `Show tasks tagged ${tag}` },
    });
    chip.addEventListener("click", () => filterByTag(tag));
    meta.append(chip);
  }
  if (meta.childElementCount) item.append(meta);

  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      const updated = await api("PATCH", userPath(`/tasks/${task.id}/complete`));
      const row = renderTask(updated);
      item.replaceWith(row);
      row.querySelector("input").focus();
    } catch (error) {
      box.checked = !box.checked; // it did not change on the server
      box.disabled = false;
      if (!reportError(error) && error instanceof ApiError && error.status === 404) loadTasks();
    }
  });
  return item;
}
