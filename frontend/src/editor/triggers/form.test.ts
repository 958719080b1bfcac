import { describe, expect, it } from "vitest";

import { apiErrorFromBody, ApiError } from "../../api/errors";
import type { Trigger } from "../../api/triggers";
import { describeCron } from "./cron";
import { configFromForm, createBody, emptyForm, formFromTrigger, generalErrors, serverFieldErrors, updateBody } from "./form";
import { signingExample } from "./signing";

function saved(kind: Trigger["kind"], config: Trigger["config"]): Trigger {
  return {
    id: 7,
    workflow: 3,
    kind,
    name: "Nightly",
    config,
    enabled: false,
    owner: "admin",
    url: null,
    has_previous_secret: false,
    previous_secret_expires_at: null,
    next_fire_at: null,
    last_fired_at: null,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
  };
}

describe("trigger form → config", () => {
  it("sends a webhook with an empty config", () => {
    const form = { ...emptyForm("webhook", "UTC"), name: "  Orders  " };
    expect(createBody(form)).toEqual({ body: { kind: "webhook", name: "Orders", config: {}, enabled: true }, errors: {} });
  });

  it("maps every schedule field, the inputs parsed from JSON", () => {
    const form = { ...emptyForm("schedule", "UTC"), cron: " 30 2 * * 1-5 ", timezone: "Europe/Berlin", catchUp: "once" as const, overlap: "cancel_previous" as const, scheduleInputs: '{"report": "daily"}' };
    expect(configFromForm(form)).toEqual({
      config: { cron: "30 2 * * 1-5", timezone: "Europe/Berlin", catch_up: "once", overlap: "cancel_previous", inputs: { report: "daily" } },
      errors: {},
    });
  });

  it("refuses schedule inputs that are not a JSON object, before asking the server", () => {
    expect(configFromForm({ ...emptyForm("schedule", "UTC"), scheduleInputs: "[1]" }).errors).toEqual({ inputs: ["Must be a JSON object: the run's inputs."] });
    const { body, errors } = createBody({ ...emptyForm("schedule", "UTC"), scheduleInputs: "{nope" });
    expect(body).toBeNull();
    expect(errors).toEqual({ inputs: ["Not valid JSON."] });
  });

  it("maps a workflow event: the source id as a number, outcomes in a stable order, blank rows dropped", () => {
    const form = {
      ...emptyForm("workflow_event", "UTC"),
      sourceWorkflow: "12",
      on: ["failed" as const, "succeeded" as const],
      eventInputs: [
        { name: " ticket ", template: "{{ event.run.outputs.ticket }}" },
        { name: "", template: "" },
        { name: "why", template: "{{ event.run.error }}" },
      ],
    };
    expect(configFromForm(form)).toEqual({
      config: { workflow: 12, on: ["succeeded", "failed"], inputs: { ticket: "{{ event.run.outputs.ticket }}", why: "{{ event.run.error }}" } },
      errors: {},
    });
  });

  it("asks for a source workflow, an outcome and named inputs", () => {
    const form = { ...emptyForm("workflow_event", "UTC"), on: [], eventInputs: [{ name: "", template: "{{ event.type }}" }] };
    expect(configFromForm(form).errors).toEqual({
      workflow: ["Choose the workflow whose runs start this one."],
      on: ["Choose at least one outcome."],
      inputs: ["Every input needs a name."],
    });
  });

  it("reads a saved trigger back into the same form", () => {
    const schedule = formFromTrigger(saved("schedule", { cron: "0 9 * * *", timezone: "Asia/Tokyo", catch_up: "all", overlap: "skip", inputs: { a: 1 } }));
    expect(schedule).toMatchObject({ name: "Nightly", enabled: false, cron: "0 9 * * *", timezone: "Asia/Tokyo", catchUp: "all", overlap: "skip" });
    expect(configFromForm(schedule).config).toEqual({ cron: "0 9 * * *", timezone: "Asia/Tokyo", catch_up: "all", overlap: "skip", inputs: { a: 1 } });

    const event = formFromTrigger(saved("workflow_event", { workflow: 4, on: ["failed"], inputs: { why: "{{ event.run.error }}" } }));
    expect(event).toMatchObject({ sourceWorkflow: "4", on: ["failed"], eventInputs: [{ name: "why", template: "{{ event.run.error }}" }] });
    expect(configFromForm(event).config).toEqual({ workflow: 4, on: ["failed"], inputs: { why: "{{ event.run.error }}" } });
  });
});

describe("trigger edits", () => {
  it("send config only when it changed, so renaming keeps the owner", () => {
    const trigger = saved("schedule", { cron: "0 9 * * *", timezone: "UTC", catch_up: "skip", overlap: "allow", inputs: { b: 1, a: 2 } });
    const form = { ...formFromTrigger(trigger), name: "Morning" };
    expect(updateBody(trigger, form, configFromForm(form).config)).toEqual({ name: "Morning", enabled: false });
    const changed = { ...form, cron: "0 8 * * *" };
    expect(updateBody(trigger, changed, configFromForm(changed).config)).toEqual({
      name: "Morning",
      enabled: false,
      config: { cron: "0 8 * * *", timezone: "UTC", catch_up: "skip", overlap: "allow", inputs: { b: 1, a: 2 } },
    });
    const hook = saved("webhook", {});
    expect(updateBody(hook, formFromTrigger(hook), {})).toEqual({ name: "Nightly", enabled: false });
  });
});

describe("server field errors", () => {
  it("lifts config errors to their own fields", () => {
    const error = apiErrorFromBody(400, { config: { cron: ["Invalid cron expression."], timezone: ["Unknown time zone."] }, name: ["Too long."] });
    const fields = serverFieldErrors(error);
    expect(fields).toEqual({ cron: ["Invalid cron expression."], timezone: ["Unknown time zone."], name: ["Too long."] });
    expect(generalErrors(fields)).toEqual([]);
  });

  it("keeps errors that belong to no field at the top of the form", () => {
    const fields = serverFieldErrors(apiErrorFromBody(400, { config: { non_field_errors: ["config must be a JSON object."] }, kind: ["Cannot change."] }));
    expect(generalErrors(fields)).toEqual(["config must be a JSON object.", "Cannot change."]);
    expect(serverFieldErrors(new ApiError(400, "The request was not accepted."))).toEqual({ non_field_errors: ["The request was not accepted."] });
  });
});

describe("cron hint", () => {
  it("reads common expressions in plain words, with the zone", () => {
    expect(describeCron("30 2 * * 1-5", "Europe/Berlin")).toBe("At 02:30, Monday to Friday (Europe/Berlin time)");
    expect(describeCron("0 9 * * *", "UTC")).toBe("At 09:00, every day (UTC time)");
    expect(describeCron("*/15 * * * *", "UTC")).toBe("Every 15 minutes (UTC time)");
    expect(describeCron("0 8 1 jan,jul *", "UTC")).toBe("At 08:00, on day 1 of the month, in January and July (UTC time)");
    expect(describeCron("@daily", "Asia/Tokyo")).toBe("Every day at midnight (Asia/Tokyo time)");
  });

  it("says what is wrong with the shape instead of guessing", () => {
    expect(describeCron("0 9 * *", "UTC")).toContain("this has 4");
    expect(describeCron("", "UTC")).toContain("Five fields");
    expect(describeCron("61 * * * *", "UTC")).toBe("Minutes go from 0 to 59.");
    expect(describeCron("0 9-24 * * *", "UTC")).toBe("Hours go from 0 to 23.");
  });
});

describe("signing example", () => {
  it("signs t.body with HMAC-SHA256 and sends the header the server checks", () => {
    const example = signingExample("http://flowdeck.test/hooks/abc/", "whsec_it's");
    expect(example).toContain(`secret='whsec_it'"'"'s'`);
    expect(example).toContain("printf '%s.%s' \"$t\" \"$body\" | openssl dgst -sha256 -hmac \"$secret\"");
    expect(example).toContain('X-Flowdeck-Signature: t=$t,v1=$sig');
  });
});
