// Strict validation of docs/openapi.json: the OpenAPI 3 JSON schema
// (@seriousme/openapi-schema-validator), every internal $ref resolvable, then the rules
// the schema leaves open but code generators and linters rely on: every operation has an
// operationId, unique across the document; no empty `required` array; every name in a
// schema's `required` is one of its properties; every {parameter} of a path template is
// declared as a path parameter, and every declared path parameter appears in the template.
// Prints each problem and exits 1 if there is any.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

function walk(node, where, visit) {
  if (Array.isArray(node)) {
    node.forEach((v, i) => walk(v, `${where}/${i}`, visit));
  } else if (node && typeof node === "object") {
    visit(node, where);
    for (const [k, v] of Object.entries(node)) walk(v, `${where}/${k}`, visit);
  }
}

function refTarget(doc, ref) {
  if (!ref.startsWith("#/")) return undefined;
  let node = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (!node || typeof node !== "object" || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function checkSchemas(doc, problems) {
  walk(doc, "#", (node, where) => {
    if (typeof node.$ref === "string" && refTarget(doc, node.$ref) === undefined)
      problems.push(`${where}: $ref ${node.$ref} does not resolve`);
    if (!Array.isArray(node.required)) return;
    if (node.required.length === 0) problems.push(`${where}: empty required array`);
    const props = node.properties;
    if (props && typeof props === "object")
      for (const name of node.required)
        if (!(name in props)) problems.push(`${where}: required "${name}" is not a property`);
  });
}

function checkOperations(doc, problems) {
  const seen = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    const templated = new Set([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]));
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (typeof op.operationId !== "string" || op.operationId === "")
        problems.push(`${where}: no operationId`);
      else if (seen.has(op.operationId))
        problems.push(`${where}: operationId ${op.operationId} also on ${seen.get(op.operationId)}`);
      else seen.set(op.operationId, where);
      const params = [...(item.parameters || []), ...(op.parameters || [])]
        .map((p) => (p.$ref ? refTarget(doc, p.$ref) : p))
        .filter((p) => p && p.in === "path")
        .map((p) => p.name);
      for (const name of templated)
        if (!params.includes(name)) problems.push(`${where}: path parameter {${name}} not declared`);
      for (const name of params)
        if (!templated.has(name)) problems.push(`${where}: path parameter ${name} not in the path`);
    }
  }
}

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.js <openapi.json>");
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, "utf8"));
const problems = [];
const validator = new Validator();
const res = await validator.validate(doc);
if (!res.valid)
  for (const e of res.errors) problems.push(`schema: ${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
checkSchemas(doc, problems);
checkOperations(doc, problems);
if (problems.length) {
  for (const p of problems) console.error(`${file}: ${p}`);
  console.error(`${file}: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`${file}: valid OpenAPI ${validator.version}, ${Object.keys(doc.paths || {}).length} paths`);
