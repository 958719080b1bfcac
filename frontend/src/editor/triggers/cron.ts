/**
 * A plain-words reading of a five-field cron expression, shown under the field while typing. It is
 * only a hint: the server checks the expression and computes the real fire times (`next_fire_at`).
 */

const ALIASES: Record<string, string> = {
  "@yearly": "Once a year, at midnight on 1 January",
  "@annually": "Once a year, at midnight on 1 January",
  "@monthly": "Once a month, at midnight on the 1st",
  "@weekly": "Once a week, at midnight on Sunday",
  "@daily": "Every day at midnight",
  "@midnight": "Every day at midnight",
  "@hourly": "Every hour, on the hour",
};

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const DAY_NAMES: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const MONTHS = ["", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const MONTH_NAMES: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };

const NUMBER = /^\d+$/;

function list(parts: string[]): string {
  if (parts.length <= 1) return parts.join("");
  return `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
}

/** "1-5" → "Monday to Friday"; "1,3" → "Monday and Wednesday"; names (mon-fri) too. */
function describeValues(field: string, name: (value: number) => string, names: Record<string, number> = {}): string | null {
  const value = (token: string): number | null => {
    const lower = token.toLowerCase();
    if (lower in names) return names[lower] ?? null;
    return NUMBER.test(token) ? Number(token) : null;
  };
  const parts: string[] = [];
  for (const piece of field.split(",")) {
    const [from, to, extra] = piece.split("-");
    const start = from === undefined ? null : value(from);
    if (start === null || extra !== undefined) return null;
    if (to === undefined) {
      parts.push(name(start));
      continue;
    }
    const end = value(to);
    if (end === null) return null;
    parts.push(`${name(start)} to ${name(end)}`);
  }
  return list(parts);
}

function twoDigits(value: string): string {
  return value.padStart(2, "0");
}

function timeOfDay(minute: string, hour: string): string {
  if (minute === "*" && hour === "*") return "Every minute";
  const minuteStep = /^\*\/(\d+)$/.exec(minute);
  const hourStep = /^\*\/(\d+)$/.exec(hour);
  if (minuteStep && hour === "*") return `Every ${minuteStep[1]} minutes`;
  if (minuteStep) return `Every ${minuteStep[1]} minutes during hour ${hour}`;
  if (NUMBER.test(minute) && hour === "*") return minute === "0" ? "Every hour, on the hour" : `Every hour at minute ${minute}`;
  if (NUMBER.test(minute) && hourStep) return `Every ${hourStep[1]} hours at minute ${minute}`;
  if (NUMBER.test(minute) && NUMBER.test(hour)) return `At ${twoDigits(hour)}:${twoDigits(minute)}`;
  if (NUMBER.test(minute) && /^[\d,]+$/.test(hour)) return `At ${list(hour.split(",").map((value) => `${twoDigits(value)}:${twoDigits(minute)}`))}`;
  if (minute === "*") return `Every minute of hour ${hour}`;
  return `At minute ${minute} of hour ${hour}`;
}

/**
 * A hint such as "At 09:00, Monday to Friday (Europe/Berlin time)", or a reminder of the format
 * when the text does not look like cron at all. Never claims more than it can read.
 */
export function describeCron(expression: string, zone: string): string {
  const trimmed = expression.trim();
  const where = ` (${zone || "UTC"} time)`;
  if (!trimmed) return "Five fields: minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly.";
  const alias = ALIASES[trimmed.toLowerCase()];
  if (alias) return alias + where;
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) return `Cron has five fields (minute hour day-of-month month day-of-week); this has ${fields.length}.`;
  const [minute = "*", hour = "*", dayOfMonth = "*", month = "*", dayOfWeek = "*"] = fields;
  const limits = [
    [minute, 59, "Minutes"],
    [hour, 23, "Hours"],
  ] as const;
  for (const [field, most, label] of limits) {
    if (field.split(/[,/-]/).some((part) => NUMBER.test(part) && Number(part) > most)) return `${label} go from 0 to ${most}.`;
  }
  const parts = [timeOfDay(minute, hour)];
  if (dayOfMonth !== "*") {
    const days = describeValues(dayOfMonth, (value) => String(value));
    parts.push(days ? `on day ${days} of the month` : `on days ${dayOfMonth} of the month`);
  }
  if (month !== "*") {
    const months = describeValues(month, (value) => MONTHS[value] ?? String(value), MONTH_NAMES);
    parts.push(`in ${months ?? `months ${month}`}`);
  }
  if (dayOfWeek !== "*") {
    const days = describeValues(dayOfWeek, (value) => DAYS[value] ?? String(value), DAY_NAMES);
    parts.push(days ?? `on weekdays ${dayOfWeek}`);
  } else if (dayOfMonth === "*" && month === "*" && !parts[0]?.startsWith("Every")) {
    parts.push("every day");
  }
  return parts.join(", ") + where;
}
