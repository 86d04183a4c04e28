// Drive one or more Things over HTTP with Eclipse Thingweb node-wot (the W3C WoT reference consumer) and check
// every step. Used by thingwire's HTTP interop tests (tests/tests/it/http_clients.rs), which install the pinned
// node-wot from tests/node/package-lock.json into target/node-wot/ and run this file from there.
//
// Usage:
//     node wot_client_check.mjs --plan '<json>' [--timeout SECONDS]
//     node wot_client_check.mjs --plan-file plan.json [--timeout SECONDS]
//
// The plan is one Thing or an array of Things; every key but `td` is optional, and a step runs only when the plan
// asks for it, so the same script drives the interop Thing and the simulated lab. Steps run in the order below
// (writes first, so that a plan can restore known values and then read them):
//
//     {
//       "td": "http://127.0.0.1:8080/sensor/resources/wot-td",  // URL of the Thing Description
//       "tdValidation": "strict",        // "strict": WoT.requestThingDescription must accept the TD (node-wot's
//                                        // TD schema check); "lenient": if it refuses, print why, fetch the TD
//                                        // with plain fetch() and consume it anyway (for hololinked's TD)
//       "errors": "status",              // "status": a refused write must reject (the server answers 4xx);
//                                        // "hololinked": the server answers 200 + {"exception": ...}, which
//                                        // node-wot takes for success, so only "the value did not change" is checked
//       "write":        [{"property": "gain", "value": 2.5}],            // write, read back, compare
//       "read":         [{"property": "serial", "expect": "SN-001"}],
//       "refusedWrite": [{"property": "gain", "value": 1000}],           // must be refused, value unchanged
//       "invoke":       [{"action": "add", "input": {"a": 1, "b": 2}, "expect": 3}],
//       "readAll":      {"includes": {"serial": "SN-001"}},              // readAllProperties has these values
//       "observe":      [{"property": "gain", "writes": [3, 4]}],        // observe, write until a change arrives
//       "subscribe":    [{"event": "tick", "trigger": {"action": "emit", "input": {"value": 7}},
//                         "expect": {"value": 7}}],                      // subscribe, invoke until it arrives
//       "unsubscribeCloses": true        // after stop(), node-wot's own event stream must be closed; false for
//                                        // a TD on which node-wot is known to unlink the wrong form (prints a note)
//     }
//
// A single key may be given as an object instead of a one-element array. Every step prints one line,
// `ok <thing>: <step>` or `FAIL <thing>: <step>: <why>`; the last line is `ALL OK` (exit 0) when every step
// passed, otherwise `FAILED n of m steps` (exit 1). Bad usage exits 2. Every wait is bounded (10 s a step, 10 s for
// an event) and a watchdog ends the run after --timeout seconds (60 by default).

import { isDeepStrictEqual } from "node:util";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const STEP_TIMEOUT_MS = 10_000;
const EVENT_TIMEOUT_MS = 10_000;
const RETRIGGER_MS = 200;
const PLAN_KEYS = [
    "td",
    "tdValidation",
    "errors",
    "write",
    "read",
    "refusedWrite",
    "invoke",
    "readAll",
    "observe",
    "subscribe",
    "unsubscribeCloses",
];

// ---- command line --------------------------------------------------------------------------------------------

function usage(why) {
    console.log(`usage error: ${why}`);
    console.log("usage: node wot_client_check.mjs (--plan JSON | --plan-file FILE) [--timeout SECONDS]");
    process.exit(2);
}

function parseArgs(argv) {
    let planText;
    let timeout = 60;
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = argv[i + 1];
        if (flag === "--plan" && value !== undefined) {
            planText = value;
        } else if (flag === "--plan-file" && value !== undefined) {
            planText = readFileSync(value, "utf8");
        } else if (flag === "--timeout" && value !== undefined) {
            timeout = Number(value);
            if (!(timeout > 0)) usage(`--timeout must be a positive number of seconds, got ${value}`);
        } else {
            usage(`unknown or incomplete argument ${flag}`);
        }
        i++;
    }
    if (planText === undefined) usage("no plan given");
    let plan;
    try {
        plan = JSON.parse(planText);
    } catch (e) {
        usage(`the plan is not JSON: ${e.message}`);
    }
    const things = Array.isArray(plan) ? plan : [plan];
    if (things.length === 0) usage("the plan names no Thing");
    for (const thing of things) {
        if (typeof thing?.td !== "string") usage(`every Thing in the plan needs "td" (a URL): ${JSON.stringify(thing)}`);
        // a misspelt key would silently skip its step
        const unknown = Object.keys(thing).filter((key) => !PLAN_KEYS.includes(key));
        if (unknown.length) usage(`unknown plan key(s) ${unknown.join(", ")} for ${thing.td}; known: ${PLAN_KEYS.join(", ")}`);
        if (!["strict", "lenient", undefined].includes(thing.tdValidation)) usage(`bad tdValidation in ${thing.td}`);
        if (!["status", "hololinked", undefined].includes(thing.errors)) usage(`bad errors in ${thing.td}`);
    }
    return { things, timeout };
}

const list = (x) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const show = (v) => (v instanceof Map ? JSON.stringify(Object.fromEntries(v)) : JSON.stringify(v));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class CheckFailed extends Error {}

function check(condition, why) {
    if (!condition) throw new CheckFailed(why);
}

function withDeadline(promise, ms, what) {
    let timer;
    const deadline = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new CheckFailed(`${what}: no result within ${ms / 1000} s`)), ms);
    });
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// ---- node-wot -------------------------------------------------------------------------------------------------

// node-wot is resolved from the working directory (the folder where `npm ci` installed it: the harness runs this
// script with the current directory at target/node-wot/), not from this file's folder, so the script can stay in
// tests/node/. Importing @node-wot/core compiles its TD schema with ajv, which warns once per `iri-reference`
// format on the console; that noise says nothing about the Thing, so it is filtered out while the modules load.
function loadNodeWot() {
    const require = createRequire(join(process.cwd(), "package.json"));
    const warn = console.warn;
    console.warn = (...args) => {
        if (!String(args[0]).startsWith('unknown format "iri-reference"')) warn(...args);
    };
    try {
        const core = require("@node-wot/core");
        const http = require("@node-wot/binding-http");
        return { Servient: core.Servient, HttpClientFactory: http.HttpClientFactory };
    } finally {
        console.warn = warn;
    }
}

// The HttpClients node-wot creates, so that a check can look at the event streams they hold open. node-wot keeps
// them in `activeSubscriptions` (href -> SSESubscription with its `eventSource`, readyState 2 when closed); this
// is internal to the pinned version, which is why the version is pinned.
const clients = [];

function openStreams(href) {
    const open = [];
    for (const client of clients) {
        for (const [key, subscription] of client.activeSubscriptions ?? []) {
            const source = subscription.eventSource;
            if ((href === undefined || key === href) && source !== undefined && source.readyState !== 2) {
                open.push(key);
            }
        }
    }
    return open;
}

// ---- steps ----------------------------------------------------------------------------------------------------

let ran = 0;
let failures = 0;

async function step(name, run, timeoutMs = STEP_TIMEOUT_MS) {
    ran++;
    try {
        const note = await withDeadline(Promise.resolve().then(run), timeoutMs, name);
        console.log(`ok ${name}${note ? ` (${note})` : ""}`);
        return true;
    } catch (e) {
        failures++;
        console.log(`FAIL ${name}: ${e instanceof CheckFailed ? e.message : `${e?.name ?? "error"}: ${e?.message ?? e}`}`);
        if (!(e instanceof CheckFailed) && e?.stack) console.error(e.stack);
        return false;
    }
}

async function readValue(thing, property) {
    return (await thing.readProperty(property)).value();
}

/**
 * Starts a subscription with `start(listener, onError)` and calls `trigger(n)` every RETRIGGER_MS until the listener
 * got a value `accept` takes. The subscription's promise is not awaited first: a server may send the stream's
 * headers only with its first event (hololinked's does), and node-wot resolves the promise only once they arrive.
 */
async function receiveWhileTriggering({ start, trigger, accept, what }) {
    const seen = [];
    const streamErrors = [];
    let hit;
    const received = new Promise((resolve) => {
        hit = resolve;
    });
    const listener = async (output) => {
        try {
            const value = await output.value();
            seen.push(value);
            if (accept(value)) hit(value);
        } catch (e) {
            seen.push(`<undecodable: ${e.message}>`);
        }
    };
    let subscription;
    let subscribeError;
    const subscribing = start(listener, (err) => streamErrors.push(err?.message ?? String(err))).then(
        (s) => {
            subscription = s;
        },
        (e) => {
            subscribeError = e;
        },
    );
    const deadline = Date.now() + EVENT_TIMEOUT_MS;
    let triggers = 0;
    let got;
    let done = false;
    received.then((v) => {
        got = v;
        done = true;
    });
    while (!done && subscribeError === undefined && Date.now() < deadline) {
        if (trigger) await trigger(triggers++);
        await Promise.race([received, sleep(RETRIGGER_MS)]);
    }
    if (subscribeError !== undefined) {
        throw new CheckFailed(`${what}: subscribing failed: ${subscribeError?.message ?? subscribeError}`);
    }
    check(
        done,
        `${what}: nothing accepted within ${EVENT_TIMEOUT_MS / 1000} s after ${triggers} trigger(s); ` +
            `received ${JSON.stringify(seen)}; stream errors ${JSON.stringify(streamErrors)}`,
    );
    await withDeadline(subscribing, STEP_TIMEOUT_MS, `${what}: the subscription promise`);
    check(subscription !== undefined, `${what}: node-wot returned no subscription`);
    return { subscription, got, triggers };
}

async function stopAndCheckClosed(plan, subscription, href, what) {
    await subscription.stop();
    const stillOpen = openStreams(href);
    if (stillOpen.length === 0) return `${what}: stream closed`;
    const note = `node-wot left the stream ${href} open after stop() (it unlinks the best-scoring form, not the one it subscribed with)`;
    if (plan.unsubscribeCloses === false) return `known: ${note}`;
    throw new CheckFailed(note);
}

async function driveThing(WoT, plan) {
    const label = plan.td;
    let td;
    const fetched = await step(`${label}: fetch the TD (${plan.tdValidation ?? "strict"})`, async () => {
        try {
            td = await WoT.requestThingDescription(plan.td);
            return "node-wot's TD validation accepted it";
        } catch (e) {
            if (plan.tdValidation !== "lenient") throw e;
            const reply = await fetch(plan.td);
            check(reply.ok, `GET ${plan.td} answered ${reply.status}`);
            td = await reply.json();
            return `node-wot refused it: ${e.message}; consuming it as fetched`;
        }
    });
    if (!fetched) return;
    let thing;
    if (!(await step(`${label}: WoT.consume`, async () => {
        thing = await WoT.consume(td);
        return `id ${thing.getThingDescription().id}`;
    }))) {
        return;
    }
    const name = thing.getThingDescription().id ?? label;

    for (const { property, value } of list(plan.write)) {
        await step(`${name}: writeProperty ${property} ${show(value)}, read it back`, async () => {
            await thing.writeProperty(property, value);
            const back = await readValue(thing, property);
            check(isDeepStrictEqual(back, value), `read back ${show(back)} after writing ${show(value)}`);
        });
    }

    for (const { property, expect } of list(plan.read)) {
        await step(`${name}: readProperty ${property}`, async () => {
            const value = await readValue(thing, property);
            if (expect !== undefined) check(isDeepStrictEqual(value, expect), `read ${show(value)}, expected ${show(expect)}`);
            return `= ${show(value)}`;
        });
    }

    for (const { property, value } of list(plan.refusedWrite)) {
        const hololinked = plan.errors === "hololinked";
        const how = hololinked
            ? "200 + exception body, which node-wot cannot tell from success"
            : "rejected with a 4xx";
        await step(`${name}: writeProperty ${property} ${show(value)} is refused (${how}), value unchanged`, async () => {
            const before = await readValue(thing, property);
            let outcome;
            try {
                await thing.writeProperty(property, value);
                outcome = "resolved";
            } catch (e) {
                outcome = e;
            }
            if (hololinked) {
                check(outcome === "resolved", `expected node-wot to resolve (hololinked-style errors), it rejected: ${outcome?.message}`);
            } else {
                check(outcome !== "resolved", "writeProperty resolved: the server accepted an out-of-range value or answered 2xx");
                // node-wot's HttpClient says "Client error: <reason>" for 4xx and "Server error: <reason>" for 5xx
                check(/^Client error/.test(outcome.message), `rejected, but not with a 4xx: ${outcome.message}`);
            }
            const after = await readValue(thing, property);
            check(isDeepStrictEqual(after, before), `${property} changed from ${show(before)} to ${show(after)}`);
            return hololinked ? "node-wot resolved; value unchanged" : `${outcome.message}`;
        });
    }

    for (const { action, input, expect } of list(plan.invoke)) {
        await step(`${name}: invokeAction ${action} ${show(input)}`, async () => {
            const output = await thing.invokeAction(action, input);
            const value = await output.value();
            if (expect !== undefined) check(isDeepStrictEqual(value, expect), `returned ${show(value)}, expected ${show(expect)}`);
            return `= ${show(value)}`;
        });
    }

    if (plan.readAll !== undefined) {
        await step(`${name}: readAllProperties`, async () => {
            const outputs = await thing.readAllProperties();
            const values = new Map();
            for (const [property, output] of outputs) values.set(property, await output.value());
            for (const [property, expect] of Object.entries(plan.readAll.includes ?? {})) {
                check(values.has(property), `no ${property} in ${show(values)}`);
                check(isDeepStrictEqual(values.get(property), expect), `${property} is ${show(values.get(property))} in ${show(values)}, expected ${show(expect)}`);
            }
            return `${values.size} properties`;
        });
    }

    for (const { property, writes } of list(plan.observe)) {
        const candidates = list(writes);
        await step(`${name}: observeProperty ${property}, write until a change arrives, stop()`, async () => {
            const form = thing.getThingDescription().properties[property]?.forms?.find((f) => String(f.op).includes("observeproperty"));
            const { subscription, got, triggers } = await receiveWhileTriggering({
                what: `observe ${property}`,
                start: (listener, onError) => thing.observeProperty(property, listener, onError),
                trigger: candidates.length ? (n) => thing.writeProperty(property, candidates[n % candidates.length]) : undefined,
                accept: (v) => candidates.length === 0 || candidates.some((c) => isDeepStrictEqual(c, v)),
            });
            const closed = await stopAndCheckClosed(plan, subscription, form?.href, "unobserve");
            return `got ${show(got)} after ${triggers} write(s); ${closed}`;
        }, STEP_TIMEOUT_MS + EVENT_TIMEOUT_MS);
    }

    for (const { event, trigger, expect } of list(plan.subscribe)) {
        await step(`${name}: subscribeEvent ${event}, invoke ${trigger?.action ?? "nothing"} until it arrives, stop()`, async () => {
            const form = thing.getThingDescription().events[event]?.forms?.find((f) => String(f.op).includes("subscribeevent"));
            const { subscription, got, triggers } = await receiveWhileTriggering({
                what: `subscribe ${event}`,
                start: (listener, onError) => thing.subscribeEvent(event, listener, onError),
                trigger: trigger ? () => thing.invokeAction(trigger.action, trigger.input) : undefined,
                accept: (v) => expect === undefined || isDeepStrictEqual(v, expect),
            });
            const closed = await stopAndCheckClosed(plan, subscription, form?.href, "unsubscribe");
            return `got ${show(got)} after ${triggers} invocation(s); ${closed}`;
        }, STEP_TIMEOUT_MS + EVENT_TIMEOUT_MS);
    }
}

// ---- main -----------------------------------------------------------------------------------------------------

const { things, timeout } = parseArgs(process.argv.slice(2));
setTimeout(() => {
    console.log(`FAIL overall: the run did not finish within ${timeout} s`);
    process.exit(1);
}, timeout * 1000);

let Servient;
let HttpClientFactory;
try {
    ({ Servient, HttpClientFactory } = loadNodeWot());
} catch (e) {
    console.log(`FAIL load node-wot from ${process.cwd()}: ${e.message} (run \`npm ci\` there with tests/node/package.json and package-lock.json)`);
    process.exit(1);
}

const servient = new Servient();
const factory = new HttpClientFactory(null);
const getClient = factory.getClient.bind(factory);
factory.getClient = () => {
    const client = getClient();
    clients.push(client);
    return client;
};
servient.addClientFactory(factory);
const WoT = await servient.start();

for (const plan of things) {
    await driveThing(WoT, plan);
}

// Close whatever node-wot left open (see unsubscribeCloses), so the exit is prompt.
for (const client of clients) {
    for (const subscription of client.activeSubscriptions?.values() ?? []) subscription.close?.();
}
await withDeadline(servient.shutdown(), 5000, "servient.shutdown").catch((e) => console.log(`note: ${e.message}`));

if (failures > 0) {
    console.log(`FAILED ${failures} of ${ran} steps`);
    process.exit(1);
}
console.log("ALL OK");
process.exit(0);
