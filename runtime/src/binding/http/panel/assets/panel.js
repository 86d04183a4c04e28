// The thingwire web panel: `/` lists the server's Things, `/<thing>/` is a panel generated from the Thing's
// description alone — its HTTP forms, the JSON schemas of its properties, actions and events. Plain
// JavaScript, no build step. Every value is put in the page as text (textContent), never parsed as HTML.
'use strict';

(function () {
  const LOG_LIMIT = 200; // events kept in a log
  const WINDOW_S = 5 * 60; // what a time series shows, in seconds
  const HEARTBEAT_MS = 2000;
  const PLOT_HEIGHT = 220;
  const COLOURS = ['#2f6fde', '#d9534f', '#1f8a4c', '#b7791f', '#8e44ad', '#16a3b8'];

  const main = document.getElementById('main');
  const title = document.getElementById('title');
  const connectionBadge = document.getElementById('connection');

  // ---------------------------------------------------------------------------------------------------
  // DOM: elements built from parts; text is always a text node.

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = String(value);
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function clock(date) {
    return date.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(date.getMilliseconds()).padStart(3, '0');
  }

  function text(value) {
    if (typeof value === 'string') return value;
    if (value === undefined) return '';
    return JSON.stringify(value, null, 2);
  }

  // ---------------------------------------------------------------------------------------------------
  // Connection state: a heartbeat on /liveness and the event streams; after an outage, streams reopen and
  // values are read again.

  let connectionState = 'connecting';
  const onReconnect = [];

  function setConnection(state, why) {
    const before = connectionState;
    connectionState = state;
    connectionBadge.dataset.state = state;
    connectionBadge.textContent = state;
    connectionBadge.title = why || '';
    if (before === 'disconnected' && state === 'connected') onReconnect.forEach((f) => f());
  }

  async function heartbeat() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), HEARTBEAT_MS * 2);
    try {
      const response = await fetch('/liveness', { cache: 'no-store', signal: controller.signal });
      setConnection(response.ok ? 'connected' : 'disconnected', response.ok ? '' : 'liveness ' + response.status);
    } catch (e) {
      setConnection('disconnected', 'the server cannot be reached');
    } finally {
      clearTimeout(timer);
      setTimeout(heartbeat, HEARTBEAT_MS);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // HTTP: the forms of the description, requests, errors as the server's message.

  class ServerError extends Error {
    constructor(message, type, status) {
      super(message);
      this.type = type;
      this.status = status;
    }
  }

  const DEFAULT_METHOD = {
    readproperty: 'GET', writeproperty: 'PUT', observeproperty: 'GET', invokeaction: 'POST', subscribeevent: 'GET',
  };

  function ops(form) {
    return Array.isArray(form.op) ? form.op : [form.op];
  }

  // The first HTTP form of `op`, its URL on this page's server: the panel may only talk to its own server
  // (its content security policy says so), which is the one that served the description.
  function formFor(affordance, op, base) {
    for (const form of (affordance && affordance.forms) || []) {
      if (!ops(form).includes(op)) continue;
      let url;
      try {
        url = new URL(form.href, base);
      } catch (e) {
        continue;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
      const here = url.origin === location.origin ? url.href : location.origin + url.pathname + url.search;
      return { url: here, method: form['htv:methodName'] || DEFAULT_METHOD[op], sse: form.subprotocol === 'sse' };
    }
    return null;
  }

  async function request(method, url, body) {
    const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined && method !== 'GET' && method !== 'HEAD') {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (e) {
      setConnection('disconnected', 'the server cannot be reached');
      throw new ServerError('the server cannot be reached (' + e.message + ')', 'ConnectionError', 0);
    }
    const raw = await response.text();
    let data = null;
    if (raw !== '') {
      try {
        data = JSON.parse(raw);
      } catch (e) {
        data = raw;
      }
    }
    // hololinked's error object, with any status (a server in hololinked's error style answers 200).
    const exception = data && typeof data === 'object' && !Array.isArray(data) && data.exception;
    if (exception && typeof exception === 'object' && typeof exception.message === 'string') {
      throw new ServerError(exception.message, exception.type || 'Error', response.status);
    }
    if (!response.ok) {
      throw new ServerError(raw || response.status + ' ' + response.statusText, 'HTTPError', response.status);
    }
    return data;
  }

  // Event streams, reopened after an outage or a refusal.
  const streams = [];

  function subscribe(url, onData) {
    const stream = { url, onData, source: null, retry: null, backoff: 1000 };
    streams.push(stream);
    openStream(stream);
    return stream;
  }

  function openStream(stream) {
    if (stream.source) stream.source.close();
    clearTimeout(stream.retry);
    const source = new EventSource(stream.url, { withCredentials: true });
    stream.source = source;
    source.onopen = () => {
      stream.backoff = 1000;
      setConnection('connected');
    };
    source.onmessage = (message) => {
      let data = message.data;
      try {
        data = JSON.parse(message.data);
      } catch (e) {
        // not JSON: shown as it came
      }
      stream.onData(data);
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (a limit, credentials): try again later, more slowly each time.
        stream.retry = setTimeout(() => openStream(stream), stream.backoff);
        stream.backoff = Math.min(stream.backoff * 2, 30000);
      }
    };
  }

  onReconnect.push(() => streams.forEach(openStream));

  // ---------------------------------------------------------------------------------------------------
  // JSON schemas: the kind of input, a check of a value, an example value.

  function alternatives(schema) {
    return schema.oneOf || schema.anyOf || null;
  }

  function enumValues(schema) {
    if (Array.isArray(schema.enum)) return schema.enum;
    if (schema.const !== undefined) return [schema.const];
    const alts = alternatives(schema) || [];
    return alts.flatMap((a) => (a.const !== undefined ? [a.const] : a.enum || []));
  }

  function kindOf(schema) {
    if (!schema || typeof schema !== 'object') return 'any';
    if (Array.isArray(schema.enum) || schema.const !== undefined) return 'enum';
    const alts = alternatives(schema);
    if (alts && alts.length && alts.every((a) => a.const !== undefined || (Array.isArray(a.enum) && a.enum.length))) {
      return 'enum';
    }
    let type = schema.type;
    if (Array.isArray(type)) type = type.find((t) => t !== 'null') || type[0];
    return type || 'any';
  }

  function typeMatches(type, value) {
    switch (type) {
      case 'null': return value === null;
      case 'boolean': return typeof value === 'boolean';
      case 'integer': return Number.isInteger(value);
      case 'number': return typeof value === 'number' && Number.isFinite(value);
      case 'string': return typeof value === 'string';
      case 'array': return Array.isArray(value);
      case 'object': return value !== null && typeof value === 'object' && !Array.isArray(value);
      default: return true;
    }
  }

  // What is wrong with `value` against `schema` (empty when nothing): the checks a panel user needs before
  // a request, the server checks again.
  function check(schema, value, path) {
    if (!schema || typeof schema !== 'object') return [];
    const at = path || 'the value';
    const problems = [];
    const alts = alternatives(schema);
    if (alts && alts.length) {
      if (!alts.some((a) => check(a, value, at).length === 0)) {
        problems.push(at + ' matches none of the allowed forms');
      }
      return problems;
    }
    if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
      return [at + ' must be one of ' + schema.enum.map((e) => JSON.stringify(e)).join(', ')];
    }
    if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value)) {
      return [at + ' must be ' + JSON.stringify(schema.const)];
    }
    const types = schema.type === undefined ? [] : [].concat(schema.type);
    if (types.length && !types.some((t) => typeMatches(t, value))) {
      return [at + ' must be ' + types.join(' or ') + ', not ' + JSON.stringify(value)];
    }
    if (typeof value === 'number') {
      if (schema.minimum !== undefined && value < schema.minimum) problems.push(at + ' must be at least ' + schema.minimum);
      if (schema.maximum !== undefined && value > schema.maximum) problems.push(at + ' must be at most ' + schema.maximum);
      if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
        problems.push(at + ' must be more than ' + schema.exclusiveMinimum);
      }
      if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) {
        problems.push(at + ' must be less than ' + schema.exclusiveMaximum);
      }
    }
    if (typeof value === 'string') {
      const n = [...value].length;
      if (schema.minLength !== undefined && n < schema.minLength) problems.push(at + ' needs at least ' + schema.minLength + ' characters');
      if (schema.maxLength !== undefined && n > schema.maxLength) problems.push(at + ' takes at most ' + schema.maxLength + ' characters');
    }
    if (Array.isArray(value)) {
      if (schema.minItems !== undefined && value.length < schema.minItems) problems.push(at + ' needs at least ' + schema.minItems + ' items');
      if (schema.maxItems !== undefined && value.length > schema.maxItems) problems.push(at + ' takes at most ' + schema.maxItems + ' items');
      if (schema.items && !Array.isArray(schema.items)) {
        for (let i = 0; i < value.length && problems.length < 5; i++) problems.push(...check(schema.items, value[i], at + '[' + i + ']'));
      }
    }
    if (typeMatches('object', value)) {
      for (const name of schema.required || []) {
        if (!(name in value)) problems.push(at + ' needs `' + name + '`');
      }
      const properties = schema.properties || {};
      for (const [name, v] of Object.entries(value)) {
        if (properties[name]) problems.push(...check(properties[name], v, at + '.' + name));
        else if (schema.additionalProperties === false) problems.push(at + ' has no `' + name + '`');
      }
    }
    return problems;
  }

  function example(schema) {
    if (!schema || typeof schema !== 'object') return null;
    if (schema.default !== undefined) return schema.default;
    const values = enumValues(schema);
    if (values.length) return values[0];
    switch (kindOf(schema)) {
      case 'object': {
        const out = {};
        for (const name of schema.required || Object.keys(schema.properties || {})) {
          out[name] = example((schema.properties || {})[name]);
        }
        return out;
      }
      case 'array': return Array.from({ length: schema.minItems || 0 }, () => example(schema.items));
      case 'integer':
      case 'number': return schema.minimum !== undefined ? schema.minimum : 0;
      case 'string': return '';
      case 'boolean': return false;
      default: return null;
    }
  }

  function refuse(problems) {
    if (problems.length) throw new Error(problems.join('; '));
  }

  // An input for a value of `schema`: { el, get() (throws with what is wrong), set(value) }.
  function widget(schema, label) {
    const kind = kindOf(schema);
    const aria = { 'aria-label': label };
    if (kind === 'enum') {
      const values = enumValues(schema);
      const select = h('select', aria, values.map((v, i) => h('option', { value: String(i) }, text(v))));
      return {
        el: select,
        get: () => values[Number(select.value)],
        set: (v) => {
          const i = values.findIndex((e) => JSON.stringify(e) === JSON.stringify(v));
          if (i >= 0) select.value = String(i);
        },
      };
    }
    if (kind === 'boolean') {
      const box = h('input', Object.assign({ type: 'checkbox', role: 'switch' }, aria));
      return { el: h('label', { class: 'switch' }, box, h('span', { text: 'on' })), get: () => box.checked, set: (v) => { box.checked = !!v; } };
    }
    if (kind === 'number' || kind === 'integer') {
      const input = h('input', Object.assign({ type: 'number', step: kind === 'integer' ? '1' : 'any' }, aria));
      const low = schema.minimum !== undefined ? schema.minimum : schema.exclusiveMinimum;
      const high = schema.maximum !== undefined ? schema.maximum : schema.exclusiveMaximum;
      if (low !== undefined) input.min = String(low);
      if (high !== undefined) input.max = String(high);
      if (low !== undefined || high !== undefined) input.placeholder = (low !== undefined ? low : '…') + ' – ' + (high !== undefined ? high : '…');
      return {
        el: input,
        get: () => {
          if (input.value.trim() === '') throw new Error('enter a number');
          const v = Number(input.value);
          refuse(check(schema, v));
          return v;
        },
        set: (v) => { if (typeof v === 'number') input.value = String(v); },
      };
    }
    if (kind === 'string') {
      const input = h('input', Object.assign({ type: 'text' }, aria));
      if (schema.maxLength !== undefined) input.maxLength = schema.maxLength;
      return {
        el: input,
        get: () => { refuse(check(schema, input.value)); return input.value; },
        set: (v) => { if (typeof v === 'string') input.value = v; },
      };
    }
    // Objects, arrays, anything else: JSON, checked against the schema.
    const area = h('textarea', Object.assign({ spellcheck: 'false' }, aria));
    area.value = JSON.stringify(example(schema), null, 2);
    return {
      el: area,
      get: () => {
        let v;
        try {
          v = JSON.parse(area.value);
        } catch (e) {
          throw new Error('not valid JSON: ' + e.message);
        }
        refuse(check(schema, v));
        return v;
      },
      set: (v) => { if (v !== undefined) area.value = JSON.stringify(v, null, 2); },
    };
  }

  // ---------------------------------------------------------------------------------------------------
  // Plots (uPlot): the latest numeric array as a line, numbers over the last minutes as a time series.

  const plots = [];
  addEventListener('resize', () => plots.forEach((p) => p.resize()));

  function isNumericArray(v) {
    return Array.isArray(v) && v.length > 1 && v.every((x) => typeof x === 'number');
  }

  function widthOf(el) {
    return Math.max(240, Math.floor(el.getBoundingClientRect().width) || 480);
  }

  function linePlot(container, label) {
    let chart = null;
    const plot = {
      draw(ys) {
        const data = [ys.map((_, i) => i), ys];
        if (chart && chart.data[0].length === ys.length) {
          chart.setData(data);
          return;
        }
        if (chart) chart.destroy();
        chart = new uPlot({
          width: widthOf(container), height: PLOT_HEIGHT, legend: { show: false },
          scales: { x: { time: false } },
          axes: [{}, { size: 64 }],
          series: [{ label: 'index' }, { label, stroke: COLOURS[0], width: 1.5, points: { show: false } }],
        }, data, container);
      },
      resize() { if (chart) chart.setSize({ width: widthOf(container), height: PLOT_HEIGHT }); },
    };
    plots.push(plot);
    return plot;
  }

  function timeSeries(container, labels) {
    const xs = [];
    const ys = labels.map(() => []);
    let chart = null;
    const plot = {
      push(values) {
        const now = Date.now() / 1000;
        xs.push(now);
        labels.forEach((_, i) => ys[i].push(typeof values[i] === 'number' ? values[i] : null));
        while (xs.length && xs[0] < now - WINDOW_S) {
          xs.shift();
          ys.forEach((y) => y.shift());
        }
        const data = [xs, ...ys];
        if (!chart) {
          chart = new uPlot({
            width: widthOf(container), height: PLOT_HEIGHT,
            scales: { x: { time: true } },
            axes: [{}, { size: 64 }],
            series: [{}, ...labels.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 1.5 }))],
          }, data, container);
        } else {
          chart.setData(data);
        }
        // At least a minute wide, ending now: a first point is not stretched over years.
        const last = xs[xs.length - 1];
        if (last - xs[0] < 60) chart.setScale('x', { min: last - 60, max: last + 1 });
      },
      resize() { if (chart) chart.setSize({ width: widthOf(container), height: PLOT_HEIGHT }); },
    };
    plots.push(plot);
    return plot;
  }

  // A value's view: text, a line plot for a numeric array, a time series for an observable number.
  function valueView(schema, options) {
    const unit = schema && schema.unit;
    const shown = h('pre', { class: 'value', 'aria-live': 'polite' });
    const lineBox = h('div', { class: 'plot line' });
    const seriesBox = h('div', { class: 'plot series' });
    let line = null;
    let series = null;
    return {
      el: h('div', {}, shown, lineBox, seriesBox),
      show(value) {
        shown.replaceChildren();
        if (isNumericArray(value)) {
          const low = Math.min(...value);
          const high = Math.max(...value);
          shown.append(value.length + ' values, ' + low.toPrecision(4) + ' … ' + high.toPrecision(4));
          if (unit) shown.append(h('span', { class: 'unit', text: unit }));
          line = line || linePlot(lineBox, options.label);
          line.draw(value);
          return;
        }
        // Measured numbers to six significant digits; the exact value on hover.
        const rounded = typeof value === 'number' && !Number.isInteger(value) ? String(Number(value.toPrecision(6))) : null;
        shown.append(rounded === null ? text(value) : rounded);
        shown.title = rounded === null ? '' : String(value);
        if (unit) shown.append(h('span', { class: 'unit', text: unit }));
        if (options.trend && typeof value === 'number') {
          series = series || timeSeries(seriesBox, [options.label]);
          series.push([value]);
        }
      },
    };
  }

  // ---------------------------------------------------------------------------------------------------
  // The panel of one Thing.

  function heading(name, affordance, badges) {
    const label = affordance.title || name;
    return h('h3', {}, label, label !== name ? h('span', { class: 'name', text: name }) : null,
      badges.map(([t, cls]) => h('span', { class: 'badge ' + (cls || ''), text: t })));
  }

  function describe(affordance) {
    return affordance.description ? h('p', { class: 'description', text: affordance.description }) : null;
  }

  const rereads = [];
  onReconnect.push(() => rereads.forEach((f) => f()));

  function propertyCard(name, p, base) {
    const read = formFor(p, 'readproperty', base);
    const write = p.readOnly ? null : formFor(p, 'writeproperty', base);
    const observe = p.observable ? formFor(p, 'observeproperty', base) : null;
    const view = valueView(p, { label: p.title || name, trend: !!observe });
    const error = h('p', { class: 'error', role: 'alert' });
    const status = h('p', { class: 'status' });
    const badges = [];
    if (p.readOnly) badges.push(['read-only']);
    if (observe) badges.push(['live', 'live']);
    const card = h('section', { class: 'card', 'data-affordance': 'property', 'data-name': name },
      heading(name, p, badges), describe(p), view.el);
    let editor = null;

    const readNow = async () => {
      if (!read) return;
      try {
        const value = await request(read.method, read.url);
        view.show(value);
        if (editor && document.activeElement !== editor.el) editor.set(value);
        error.textContent = '';
        status.textContent = 'read at ' + clock(new Date());
      } catch (e) {
        error.textContent = e.message;
      }
    };

    if (write) {
      editor = widget(p, 'new value of ' + name);
      const submit = async () => {
        let value;
        try {
          value = editor.get();
        } catch (e) {
          error.textContent = e.message;
          return;
        }
        button.disabled = true;
        try {
          await request(write.method, write.url, value);
          error.textContent = '';
          status.textContent = 'written at ' + clock(new Date());
          if (!observe) await readNow();
        } catch (e) {
          error.textContent = e.message;
        } finally {
          button.disabled = false;
        }
      };
      const button = h('button', { type: 'button', class: 'write', onclick: submit, text: 'Write' });
      editor.el.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && editor.el.tagName !== 'TEXTAREA') submit();
      });
      card.append(h('div', { class: 'row' }, editor.el, button));
    }
    if (!observe && read) {
      card.append(h('div', { class: 'row' }, h('button', { type: 'button', class: 'secondary refresh', onclick: readNow, text: 'Refresh' })));
    }
    if (!read) card.append(h('p', { class: 'status', text: 'not readable over HTTP' }));
    card.append(error, status);
    if (observe) {
      subscribe(observe.url, (value) => {
        view.show(value);
        if (editor && document.activeElement !== editor.el) editor.set(value);
        status.textContent = 'changed at ' + clock(new Date());
      });
    }
    rereads.push(readNow);
    readNow();
    return card;
  }

  function actionCard(name, a, base) {
    const invoke = formFor(a, 'invokeaction', base);
    const input = a.input;
    const fields = [];
    const object = input && kindOf(input) === 'object' && input.properties;
    if (object) {
      const required = new Set(input.required || []);
      for (const [arg, schema] of Object.entries(input.properties)) {
        const w = widget(schema, arg);
        if (schema.default !== undefined) w.set(schema.default);
        fields.push({ arg, w, required: required.has(arg), schema });
      }
    } else if (input) {
      fields.push({ arg: null, w: widget(input, name), required: true, schema: input });
    }
    const error = h('p', { class: 'error', role: 'alert' });
    const status = h('p', { class: 'status' });
    const result = valueView(a.output || {}, { label: name, trend: false });
    result.el.classList.add('result');
    const card = h('section', { class: 'card', 'data-affordance': 'action', 'data-name': name },
      heading(name, a, a.safe ? [['safe']] : []), describe(a));
    for (const f of fields) {
      const label = (f.arg || 'argument') + (f.required ? ' *' : '');
      card.append(h('label', { class: 'field', title: (f.schema && f.schema.description) || null },
        h('span', { text: label }), f.w.el));
    }
    const run = async () => {
      let args;
      try {
        if (object) {
          args = {};
          for (const f of fields) {
            const blank = (f.w.el.value !== undefined && f.w.el.value === '') && !f.required;
            if (!blank) args[f.arg] = f.w.get();
          }
        } else if (fields.length) {
          args = fields[0].w.get();
        }
      } catch (e) {
        error.textContent = e.message;
        return;
      }
      button.disabled = true;
      error.textContent = '';
      status.classList.add('running');
      const started = performance.now();
      const tick = setInterval(() => {
        status.textContent = 'running… ' + ((performance.now() - started) / 1000).toFixed(1) + ' s';
      }, 100);
      status.textContent = 'running…';
      card.dataset.state = 'running';
      try {
        const value = await request(invoke.method, invoke.url, args);
        result.show(value === null ? 'done (no result)' : value);
        card.dataset.state = 'done';
        status.textContent = 'took ' + Math.round(performance.now() - started) + ' ms';
      } catch (e) {
        error.textContent = e.message;
        card.dataset.state = 'failed';
        status.textContent = 'failed after ' + Math.round(performance.now() - started) + ' ms';
      } finally {
        clearInterval(tick);
        status.classList.remove('running');
        button.disabled = false;
      }
    };
    const button = h('button', { type: 'button', class: 'run', onclick: run, text: 'Run', disabled: !invoke });
    card.append(h('div', { class: 'row' }, button), status, error, result.el);
    if (!invoke) status.textContent = 'not invocable over HTTP';
    return card;
  }

  // The numeric parts of an event's data: scalar fields drawn over time, the first numeric array as a line.
  function numericShape(schema) {
    const kind = kindOf(schema);
    if (kind === 'number' || kind === 'integer') return { scalars: [null], array: null };
    if (kind === 'array' && schema.items && ['number', 'integer'].includes(kindOf(schema.items))) return { scalars: [], array: '' };
    if (kind !== 'object' || !schema.properties) return { scalars: [], array: null };
    const scalars = [];
    let array = null;
    for (const [name, s] of Object.entries(schema.properties)) {
      const k = kindOf(s);
      if (k === 'number' || k === 'integer') scalars.push(name);
      else if (array === null && k === 'array' && s.items && ['number', 'integer'].includes(kindOf(s.items))) array = name;
    }
    return { scalars, array };
  }

  function eventCard(name, e, base) {
    const form = formFor(e, 'subscribeevent', base);
    const shape = numericShape(e.data);
    const log = h('ul', { class: 'log', 'aria-live': 'off' });
    const status = h('p', { class: 'status' });
    const seriesBox = h('div', { class: 'plot series' });
    const lineBox = h('div', { class: 'plot line' });
    let series = null;
    let line = null;
    let paused = false;
    let received = 0;
    let skipped = 0;
    const count = () => {
      status.textContent = received + ' received' + (skipped ? ', ' + skipped + ' not shown while paused' : '');
    };
    const pause = h('button', { type: 'button', class: 'secondary pause', text: 'Pause', onclick: () => {
      paused = !paused;
      pause.textContent = paused ? 'Resume' : 'Pause';
    } });
    const clear = h('button', { type: 'button', class: 'secondary clear', text: 'Clear', onclick: () => {
      log.replaceChildren();
      skipped = 0;
      count();
    } });
    const wide = shape.array !== null || shape.scalars.length > 0;
    const card = h('section', { class: 'card' + (wide ? ' wide' : ''), 'data-affordance': 'event', 'data-name': name },
      heading(name, e, []), describe(e), seriesBox, lineBox, h('div', { class: 'row' }, pause, clear), status, log);
    if (!form) {
      status.textContent = 'no HTTP event stream';
      return card;
    }
    subscribe(form.url, (data) => {
      received += 1;
      if (shape.scalars.length) {
        const values = shape.scalars.map((field) => (field === null ? data : data && data[field]));
        series = series || timeSeries(seriesBox, shape.scalars.map((f) => f || name));
        series.push(values);
      }
      if (shape.array !== null) {
        const values = shape.array === '' ? data : data && data[shape.array];
        if (isNumericArray(values)) {
          line = line || linePlot(lineBox, shape.array || name);
          line.draw(values);
        }
      }
      if (paused) {
        skipped += 1;
      } else {
        const shown = data && typeof data === 'object' && shape.array ? Object.assign({}, data, { [shape.array]: '[' + (data[shape.array] || []).length + ' values]' }) : data;
        log.prepend(h('li', {}, h('time', { text: clock(new Date()) }), typeof shown === 'string' ? shown : JSON.stringify(shown)));
        while (log.children.length > LOG_LIMIT) log.lastChild.remove();
      }
      count();
    });
    count();
    return card;
  }

  function section(label, cards) {
    if (!cards.length) return null;
    return h('div', {}, h('h2', { text: label }), h('div', { class: 'grid' }, cards));
  }

  async function thingPanel(id) {
    const tdUrl = location.origin + '/' + encodeURIComponent(id) + '/resources/wot-td';
    let td;
    try {
      td = await request('GET', tdUrl);
    } catch (e) {
      title.textContent = id;
      main.replaceChildren(h('p', { class: 'error', text: 'The description of `' + id + '` could not be read: ' + e.message }));
      return;
    }
    const base = td.base || tdUrl;
    document.title = (td.title || id) + ' · thingwire';
    title.textContent = td.title || id;
    const properties = Object.entries(td.properties || {}).map(([n, p]) => propertyCard(n, p, base));
    const actions = Object.entries(td.actions || {}).map(([n, a]) => actionCard(n, a, base));
    const events = Object.entries(td.events || {}).map(([n, e]) => eventCard(n, e, base));
    main.replaceChildren(
      h('p', { class: 'intro' }, td.description || '', ' ', h('span', { class: 'name', text: 'id ' + (td.id || id) }), ' · ',
        h('a', { href: tdUrl, text: 'Thing Description' })),
      section('Properties', properties), section('Actions', actions), section('Events', events),
    );
    if (!properties.length && !actions.length && !events.length) main.append(h('p', { class: 'empty', text: 'This Thing offers nothing.' }));
  }

  // ---------------------------------------------------------------------------------------------------
  // The list of Things.

  async function index() {
    title.textContent = 'Things';
    document.title = 'thingwire';
    let ids;
    try {
      ids = await request('GET', '/_panel/things');
    } catch (e) {
      main.replaceChildren(h('p', { class: 'error', text: 'The list of Things could not be read: ' + e.message }));
      return;
    }
    const list = h('div', { class: 'things' });
    main.replaceChildren(h('p', { class: 'intro', text: ids.length + ' Thing' + (ids.length === 1 ? '' : 's') + ' on this server.' }), list);
    for (const id of ids) {
      const name = h('h3', { text: id });
      const about = h('p', { class: 'description' });
      const counts = h('p', { class: 'status' });
      list.append(h('a', { class: 'card', href: '/' + encodeURIComponent(id) + '/', 'data-thing': id }, name, about, counts));
      request('GET', '/' + encodeURIComponent(id) + '/resources/wot-td').then((td) => {
        name.replaceChildren(td.title || id, h('span', { class: 'name', text: id }));
        about.textContent = td.description || '';
        const n = (o) => Object.keys(o || {}).length;
        counts.textContent = n(td.properties) + ' properties · ' + n(td.actions) + ' actions · ' + n(td.events) + ' events';
      }, (e) => {
        about.textContent = 'description unavailable: ' + e.message;
      });
    }
  }

  const parts = location.pathname.split('/').filter((p) => p !== '');
  if (parts.length === 0) index();
  else thingPanel(decodeURIComponent(parts[0]));
  heartbeat();
})();
