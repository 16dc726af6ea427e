// The HTTP contract as code: docs/openapi.json loaded once, a request's
// operation found from its method and URL, and an answer checked against
// what the document says of that operation. Used by validate_trace.js (the
// integration tests' traffic) and property.js (generated requests).
'use strict';
const fs = require('fs');
const Ajv2020 = require('ajv/dist/2020');

const TRANSPORT = new Set([400, 408, 413, 414, 417, 431, 501, 503]);

function pointer(...parts) {
  return parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

class Contract {
  constructor(file) {
    this.doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    // OpenAPI keywords (example, discriminator) are not JSON Schema's;
    // formats (int64) are described, the patterns are what is checked.
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    this.ajv.addSchema(this.doc, 'openapi');
    this.validators = new Map();
    this.codeStatus = this.doc.components.schemas.ErrorCode['x-status'];
    this.routes = Object.keys(this.doc.paths).map((p) => ({
      path: p,
      re: new RegExp('^' + p.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '([^/]+)') + '$'),
      params: (p.match(/\{[^}]+\}/g) || []).map((s) => s.slice(1, -1)),
      item: this.doc.paths[p],
    }));
  }

  // The schema at a JSON pointer of the document, compiled once.
  validator(ptr) {
    let v = this.validators.get(ptr);
    if (!v) {
      v = this.ajv.compile({ $ref: 'openapi#' + ptr });
      this.validators.set(ptr, v);
    }
    return v;
  }

  resolve(obj, ptrBase) {
    // A $ref to components/responses: the pointer of what it names.
    if (obj && obj.$ref) {
      const ptr = obj.$ref.slice(1);
      return { obj: this.at(ptr), ptr };
    }
    return { obj, ptr: ptrBase };
  }

  at(ptr) {
    return ptr.split('/').slice(1).reduce((o, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], this.doc);
  }

  // { route, method, op, params } for a request, or { route } when the path
  // is known and the method is not, or {} for an unknown path.
  find(method, url) {
    const [rawPath, query = ''] = (url || '').split('?');
    for (const r of this.routes) {
      const m = r.re.exec(rawPath);
      if (!m) continue;
      const params = {};
      r.params.forEach((name, i) => { params[name] = m[i + 1]; });
      const op = r.item[(method || '').toLowerCase()];
      if (!op) return { route: r };
      return { route: r, method: method.toLowerCase(), op, params, query: new URLSearchParams(query) };
    }
    return {};
  }

  allowed(route) {
    return ['get', 'post', 'put', 'patch', 'delete'].filter((m) => route.item[m]).map((m) => m.toUpperCase());
  }

  // Problems with an answer (an array of strings; empty when it holds).
  checkAnswer(t) {
    const problems = [];
    const found = t.url ? this.find(t.method, t.url) : {};
    let body;
    const isJson = /^application\/json\b/.test(t.content_type || '');
    if (isJson) {
      if (t.body == null) problems.push('JSON answer without a body in the trace');
      else {
        try { body = JSON.parse(t.body); } catch (e) { problems.push('answer is not JSON: ' + e.message); }
      }
    }
    const errorShape = () => {
      if (!isJson) { problems.push(`error ${t.status} with Content-Type ${t.content_type}`); return; }
      if (body === undefined) return;
      const v = this.validator('/components/schemas/Error');
      if (!v(body)) problems.push(`error body: ${this.ajv.errorsText(v.errors)}`);
      else if (this.codeStatus[body.error.code] !== t.status)
        problems.push(`code ${body.error.code} is documented with ${this.codeStatus[body.error.code]}, answered with ${t.status}`);
    };
    if (t.status === 503 && !/Retry-After: \d+/.test(t.headers || '')) problems.push('503 without Retry-After');
    if (!found.op) {
      if (found.route && t.status === 405) {
        const want = this.allowed(found.route).join(', ');
        const m = /Allow: ([^\r\n]*)/.exec(t.headers || '');
        if (!m) problems.push('405 without Allow');
        else if (m[1].split(', ').sort().join(', ') !== want.split(', ').sort().join(', ')) problems.push(`405 Allow "${m[1]}", the document says "${want}"`);
        errorShape();
      } else if (t.status === 404 || TRANSPORT.has(t.status)) {
        errorShape();
      } else {
        problems.push(`${t.method} ${t.url}: ${t.status} for a route the document does not have`);
      }
      return problems;
    }
    const base = pointer('', 'paths', found.route.path, found.method, 'responses', String(t.status));
    const declared = found.op.responses[String(t.status)];
    if (!declared) {
      problems.push(`${t.method} ${found.route.path}: status ${t.status} is not documented`);
      if (t.status >= 400) errorShape();
      return problems;
    }
    const { obj: resp, ptr } = this.resolve(declared, base);
    const types = Object.keys(resp.content || {});
    // No content documented (204): none may be sent.
    if (!types.length) {
      if (t.body_len) problems.push(`${t.method} ${found.route.path} ${t.status}: a body where the document has none`);
      if (t.status >= 200 && t.status < 300) problems.push(...this.checkAccepted(found, t));
      return problems;
    }
    const ct = (t.content_type || '').split(';')[0].trim();
    const match = types.find((k) => k === t.content_type || k.split(';')[0].trim() === ct);
    if (!match) {
      problems.push(`${t.method} ${found.route.path} ${t.status}: Content-Type ${t.content_type}, documented ${types.join(' or ')}`);
      return problems;
    }
    if (isJson && body !== undefined) {
      const v = this.validator(ptr + '/' + pointer('content', match, 'schema'));
      if (!v(body)) problems.push(`${t.method} ${found.route.path} ${t.status}: ${this.ajv.errorsText(v.errors)} in ${t.body.slice(0, 300)}`);
      if (t.status >= 400 && body && body.error && this.codeStatus[body.error.code] !== t.status)
        problems.push(`code ${body.error.code} is documented with ${this.codeStatus[body.error.code]}, answered with ${t.status}`);
    }
    if (t.status >= 200 && t.status < 300) problems.push(...this.checkAccepted(found, t));
    return problems;
  }

  // A 2xx means the service took the request: the document must take it
  // too (its parameters and JSON body), or the service is laxer than it.
  checkAccepted(found, t) {
    const problems = [];
    const ptrOp = pointer('', 'paths', found.route.path, found.method);
    for (const [i, p] of (found.op.parameters || []).entries()) {
      let raw;
      if (p.in === 'path') raw = decodeURIComponent(found.params[p.name]);
      else if (p.in === 'query') { if (!found.query.has(p.name)) continue; raw = found.query.get(p.name); }
      else continue;
      const schema = this.deref(p.schema);
      let value = raw;
      if (schema.type === 'integer') {
        if (!/^-?[0-9]+$/.test(raw)) { problems.push(`accepted ${p.in} ${p.name}=${raw}: not an integer`); continue; }
        value = Number(raw);
      }
      const v = this.validator(ptrOp + '/' + pointer('parameters', i, 'schema'));
      if (!v(value)) problems.push(`accepted ${p.in} ${p.name}=${raw.slice(0, 80)}: ${this.ajv.errorsText(v.errors)}`);
    }
    const rb = found.op.requestBody;
    if (rb && rb.content['application/json'] && t.request_body != null && t.request_body.length) {
      let body;
      try { body = JSON.parse(t.request_body); } catch (e) { return problems; }
      const v = this.validator(ptrOp + '/' + pointer('requestBody', 'content', 'application/json', 'schema'));
      if (!v(body)) problems.push(`accepted a body the document refuses: ${this.ajv.errorsText(v.errors)} in ${t.request_body.slice(0, 200)}`);
    }
    return problems;
  }

  deref(s) {
    return s && s.$ref ? this.deref(this.at(s.$ref.slice(1))) : s;
  }
}

module.exports = { Contract, pointer };
