// Dates as people read them: "Today 9:14", "Yesterday 18:02", "Mon 12 Dec, 9:14",
// "12 Dec 2025, 9:14" — the server's UTC times shown in the browser's time zone and language.

const DAY_MS = 24 * 60 * 60 * 1000;

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate());
}

/** Whole calendar days from today to `date` (0 today, -1 yesterday, 1 tomorrow). */
export function daysFromToday(date, now = new Date()) {
  return Math.round((startOfDay(date) - startOfDay(now)) / DAY_MS);
}

export function formatClock(date) {
  return date.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
}

/** The day alone: "Today", "Tomorrow", "Yesterday", "Mon 12 Dec", "12 Dec 2025". */
export function formatDay(date, now = new Date()) {
  const days = daysFromToday(date, now);
  if (days === 0) return "Today";
  if (days === 1) return "Tomorrow";
  if (days === -1) return "Yesterday";
  const options = { day: "numeric", month: "short" };
  if (Math.abs(days) < 300) options.weekday = "short";
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return date.toLocaleDateString([], options);
}

/** A message's time: the day, then the clock. */
export function formatWhen(date) {
  return `${formatDay(date)} ${formatClock(date)}`;
}

/** The full date and time, for a tooltip. */
export function formatFull(date) {
  return date.toLocaleString([], { dateStyle: "full", timeStyle: "short" });
}
