// Subscribe to events and observe property changes of a Thing through an MQTT broker with Eclipse Thingweb
// node-wot's MQTT binding (@node-wot/binding-mqtt), following the MQTT forms of its TD (node-wot takes the topic
// from the form's href path). Used by thingwire's MQTT interop test (tests/tests/it/mqtt.rs), which installs the
// pinned node-wot from tests/node/package-lock.json into target/node-wot/ and runs this file from there.
//
// Usage:
//     node wot_mqtt_subscribe.mjs --td-file TD.json --event NAME --property NAME [--count N] [--timeout SECONDS]
//
// The Thing must emit the event and change the observable property by itself (the simulated lab's thermostat
// does). Every step prints one line, `ok <step>` or `FAIL <step>: <why>`; the last line is `ALL OK` (exit 0) when
// every step passed, otherwise `FAILED n of m steps` (exit 1). Bad usage exits 2. Each wait is bounded (10 s), and a
// watchdog ends the run after --timeout seconds (60 by default).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const WAIT_MS = 10_000;

function usage(why) {
    console.log(`usage error: ${why}`);
    console.log("usage: node wot_mqtt_subscribe.mjs --td-file TD.json --event NAME --property NAME [--count N]");
    process.exit(2);
}

const args = { count: 3, timeout: 60 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === "--td-file") args.td = JSON.parse(readFileSync(value, "utf8"));
    else if (flag === "--event") args.event = value;
    else if (flag === "--property") args.property = value;
    else if (flag === "--count") args.count = Number(value);
    else if (flag === "--timeout") args.timeout = Number(value);
    else usage(`unknown flag ${flag}`);
}
if (!args.td || !args.event || !args.property) usage("--td-file, --event and --property are required");

const watchdog = setTimeout(() => {
    console.log(`FAIL watchdog: the run took longer than ${args.timeout} s`);
    process.exit(1);
}, args.timeout * 1000);

const require = createRequire(join(process.cwd(), "package.json"));
const { Servient } = require("@node-wot/core");
const { MqttClientFactory } = require("@node-wot/binding-mqtt");

let passed = 0;
let failed = 0;
async function step(name, body) {
    try {
        const detail = await body();
        passed += 1;
        console.log(`ok ${name}${detail ? `: ${detail}` : ""}`);
        return true;
    } catch (e) {
        failed += 1;
        console.log(`FAIL ${name}: ${e?.message ?? e}`);
        return false;
    }
}

// Collects `count` values from a subscription started by `start(listener, onError)`, within WAIT_MS.
function collect(start, count) {
    return new Promise((resolve, reject) => {
        const values = [];
        const timer = setTimeout(() => reject(new Error(`got ${values.length} of ${count} within ${WAIT_MS} ms`)), WAIT_MS);
        let subscription;
        const listener = async (output) => {
            try {
                values.push(await output.value());
                if (values.length === count) {
                    clearTimeout(timer);
                    resolve({ values, subscription });
                }
            } catch (e) {
                clearTimeout(timer);
                reject(e);
            }
        };
        Promise.resolve(start(listener, (e) => reject(e)))
            .then((s) => (subscription = s))
            .catch(reject);
    });
}

const servient = new Servient();
servient.addClientFactory(new MqttClientFactory());
const WoT = await servient.start();
let thing;
await step(`WoT.consume ${args.td.title ?? args.td.id}`, async () => {
    thing = await WoT.consume(args.td);
});
if (thing) {
    await step(`subscribeEvent ${args.event}: ${args.count} events`, async () => {
        const { values, subscription } = await collect((l, e) => thing.subscribeEvent(args.event, l, e), args.count);
        await subscription?.stop();
        if (values.some((v) => v === undefined || v === null)) throw new Error(`undecoded values ${JSON.stringify(values)}`);
        return JSON.stringify(values[0]);
    });
    await step(`observeProperty ${args.property}: ${args.count} changes`, async () => {
        const { values, subscription } = await collect((l, e) => thing.observeProperty(args.property, l, e), args.count);
        // node-wot's MQTT client takes one subscriber a topic: stop observing before reading the same topic.
        await subscription?.stop();
        if (values.some((v) => typeof v !== "number")) throw new Error(`not numbers: ${JSON.stringify(values)}`);
        return JSON.stringify(values[0]);
    });
    await step(`readProperty ${args.property} (the retained value)`, async () => {
        const value = await Promise.race([
            thing.readProperty(args.property).then((o) => o.value()),
            new Promise((_, reject) => setTimeout(() => reject(new Error("no retained value")), WAIT_MS)),
        ]);
        if (typeof value !== "number") throw new Error(`not a number: ${JSON.stringify(value)}`);
        return JSON.stringify(value);
    });
}
clearTimeout(watchdog);
if (failed === 0) console.log("ALL OK");
else console.log(`FAILED ${failed} of ${passed + failed} steps`);
process.exit(failed === 0 ? 0 : 1);
