#!/usr/bin/env node
// Validates docs/asyncapi.yaml with the AsyncAPI initiative's parser (the one its CLI uses)
// and docs/openapi.yaml with @readme/openapi-parser (OpenAPI 3.1). Prints "PASSED 2 checks"
// or the problems found, and exits non-zero on any error.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Parser } from "@asyncapi/parser";
import { validate } from "@readme/openapi-parser";
import YAML from "yaml";

const docs = fileURLToPath(new URL("../../docs/", import.meta.url));
let failed = false;

const asyncapi = await readFile(`${docs}asyncapi.yaml`, "utf8");
const { diagnostics } = await new Parser().parse(asyncapi);
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of errors) console.error(`asyncapi.yaml ${d.path.join(".")}: ${d.message}`);
if (errors.length > 0) failed = true;
else console.log("ok 1 asyncapi.yaml is a valid AsyncAPI 3 document");

const openapi = YAML.parse(await readFile(`${docs}openapi.yaml`, "utf8"));
const result = await validate(openapi);
if (!result.valid) {
  failed = true;
  for (const e of result.errors ?? []) console.error(`openapi.yaml: ${e.message ?? JSON.stringify(e)}`);
} else console.log("ok 2 openapi.yaml is a valid OpenAPI 3.1 document");

if (failed) process.exit(1);
console.log("PASSED 2 checks");
