// Parse an iCalendar file with Mozilla's ical.js (Thunderbird's parser) and print what a client
// sees as JSON: calendar properties and, per VEVENT, its UID, SEQUENCE, STATUS, local and UTC
// times. Usage: node parse-ics.mjs < feed.ics   (exit status 1 with a message on a parse error)
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(process.argv[2] ?? 0, "utf8");
let calendar;
try {
  calendar = new ICAL.Component(ICAL.parse(text));
} catch (error) {
  process.stderr.write(`ical.js could not parse the feed: ${error.message}\n`);
  process.exit(1);
}

// Thunderbird registers the VTIMEZONEs a document carries; a TZID without one is floating.
const timezones = {};
for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
  const zone = new ICAL.Timezone(vtimezone);
  ICAL.TimezoneService.register(zone);
  timezones[zone.tzid] = vtimezone.getAllSubcomponents().length;
}

const value = (component, name) => {
  const v = component.getFirstPropertyValue(name);
  return v === null ? null : v.toString();
};

function time(component, name) {
  const property = component.getFirstProperty(name);
  if (property === null) return null;
  const t = property.getFirstValue();
  return {
    local: t.toString(),
    zone: t.zone ? t.zone.tzid : null,
    utc: t.zone && t.zone.tzid !== "floating"
      ? new Date(t.toUnixTime() * 1000).toISOString().replace(".000Z", "Z")
      : null,
  };
}

const refresh = calendar.getFirstProperty("refresh-interval");
const result = {
  name: value(calendar, "name"),
  x_wr_calname: value(calendar, "x-wr-calname"),
  x_wr_timezone: value(calendar, "x-wr-timezone"),
  refresh_interval: refresh
    ? { type: refresh.type, seconds: refresh.getFirstValue().toSeconds() }
    : null,
  x_published_ttl: value(calendar, "x-published-ttl"),
  timezones,
  events: calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    const geo = vevent.getFirstPropertyValue("geo");
    return {
      uid: event.uid,
      sequence: event.sequence,
      status: value(vevent, "status"),
      summary: event.summary,
      location: event.location,
      description: event.description,
      start: time(vevent, "dtstart"),
      end: time(vevent, "dtend"),
      dtstamp: value(vevent, "dtstamp"),
      last_modified: value(vevent, "last-modified"),
      url: value(vevent, "url"),
      organizer: value(vevent, "organizer"),
      categories: vevent.getAllProperties("categories").flatMap((p) => p.getValues()),
      geo: geo ?? null,
      conference: value(vevent, "conference"),
    };
  }),
};
process.stdout.write(JSON.stringify(result));
