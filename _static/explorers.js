// The book's two explorers, in plain JavaScript (no library, no network).
//
// <div class="dsc-explorer" data-explorer="field"></div>: the running example
// (an 8x8 input with 3 channels, 3x3 filters, padding 1, 3 output channels).
// Choose an output and see which inputs and weights feed it in a normal, a
// depthwise, a pointwise and a depthwise separable convolution.
//
// <div class="dsc-explorer" data-explorer="cost"></div>: choose M, N, k, the
// input size, stride, padding and dilation; read the output size, parameters,
// multiply-adds and the separable / normal ratio.
//
// The browser tests (tests/site/test_explorers.py) check every number shown
// here against the book's Python formulas.
"use strict";

(() => {
  const fmt = (n) => n.toLocaleString("en-US");
  const el = (tag, attrs = {}, text = "") => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text) node.textContent = text;
    return node;
  };
  let uid = 0;

  // Output length of a convolution along one axis (chapter 2's formula), or 0
  // if the dilated kernel does not fit the padded input.
  const outputLength = (size, k, stride, padding, dilation) => {
    const span = dilation * (k - 1) + 1;
    if (size + 2 * padding < span) return 0;
    return Math.floor((size + 2 * padding - span) / stride) + 1;
  };

  // ------------------------------------------------------------------------
  // Explorer 1: which inputs and weights feed one output

  const M = 3, N = 3, K = 3, SIZE = 8, PAD = 1;
  const LAYERS = [
    // inputs read and weights used by one output value; multiply-adds per
    // position (all N outputs of a pixel); the weights as (rows, cols) tiles.
    { kind: "normal", title: "Normal", window: K, channels: "all",
      perValue: K * K * M, perPosition: K * K * M * N,
      sum: `${K}·${K}·${M}·${N}` },
    { kind: "depthwise", title: "Depthwise", window: K, channels: "own",
      perValue: K * K, perPosition: K * K * M, sum: `${K}·${K}·${M}` },
    { kind: "pointwise", title: "Pointwise (1x1)", window: 1, channels: "all",
      perValue: M, perPosition: M * N, sum: `${M}·${N}` },
    { kind: "separable", title: "Depthwise separable", window: K, channels: "all",
      perValue: K * K * M + M, perPosition: K * K * M + M * N,
      sum: `${K * K * M} + ${M * N}` },
  ];

  function buildField(root) {
    const id = `dsc-field-${uid++}`;
    root.textContent = "";
    root.classList.add("dsc-ready");
    const state = { row: 0, col: 0, out: 0 };

    const controls = el("div", { class: "dsc-controls" });
    const picker = el("fieldset", { class: "dsc-channel" });
    picker.append(el("legend", {}, "Output channel"));
    for (let o = 0; o < N; o++) {
      const label = el("label");
      const radio = el("input", { type: "radio", name: `${id}-out`, value: String(o),
        "data-out-channel": String(o) });
      if (o === 0) radio.checked = true;
      radio.addEventListener("change", () => { state.out = o; update(); });
      label.append(radio, ` ${o}`);
      picker.append(label);
    }
    controls.append(picker);

    // The output grid: one button per output position, arrow keys move.
    const outBox = el("div", { class: "dsc-outbox" });
    outBox.append(el("p", { class: "dsc-label", id: `${id}-grid-label` },
      `Output (${SIZE}x${SIZE}): choose a position`));
    const grid = el("div", { class: "dsc-grid dsc-out-grid", role: "grid",
      "aria-labelledby": `${id}-grid-label`, style: `--cols:${SIZE}` });
    const buttons = [];
    for (let i = 0; i < SIZE; i++) {
      const row = el("div", { role: "row", class: "dsc-row" });
      for (let j = 0; j < SIZE; j++) {
        const cell = el("div", { role: "gridcell" });
        const b = el("button", { type: "button", class: "dsc-cell dsc-out",
          "data-row": String(i), "data-col": String(j), tabindex: "-1",
          "aria-label": `output row ${i}, column ${j}` });
        b.addEventListener("click", () => { state.row = i; state.col = j; update(); b.focus(); });
        b.addEventListener("keydown", (event) => {
          const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1],
            ArrowRight: [0, 1], Home: [0, -SIZE], End: [0, SIZE] };
          const move = moves[event.key];
          if (!move) return;
          event.preventDefault();
          state.row = Math.min(SIZE - 1, Math.max(0, state.row + move[0]));
          state.col = Math.min(SIZE - 1, Math.max(0, state.col + move[1]));
          update();
          buttons[state.row * SIZE + state.col].focus();
        });
        buttons.push(b);
        cell.append(b);
        row.append(cell);
      }
      grid.append(row);
    }
    outBox.append(grid);
    controls.append(outBox);
    root.append(controls);

    const status = el("p", { class: "dsc-status", "aria-live": "polite", "data-field-status": "" });
    root.append(status);

    // One panel per layer: the padded input (one grid per channel), the
    // weights, the counts.
    const panels = el("div", { class: "dsc-panels" });
    const views = LAYERS.map((layer) => {
      const panel = el("section", { class: `dsc-panel dsc-${layer.kind}`,
        "data-layer": layer.kind, "aria-label": layer.title });
      panel.append(el("h4", {}, layer.title));
      const inputs = el("div", { class: "dsc-inputs" });
      const cells = [];
      for (let c = 0; c < M; c++) {
        const g = el("div", { class: "dsc-grid dsc-in-grid", "aria-hidden": "true",
          style: `--cols:${SIZE + 2 * PAD}`, "data-channel": String(c) });
        for (let r = -PAD; r < SIZE + PAD; r++) {
          for (let q = -PAD; q < SIZE + PAD; q++) {
            const pad = r < 0 || q < 0 || r >= SIZE || q >= SIZE;
            const cell = el("span", { class: `dsc-cell dsc-in dsc-ch${c}${pad ? " dsc-pad" : ""}`,
              "data-channel": String(c), "data-row": String(r), "data-col": String(q) });
            g.append(cell);
            cells.push(cell);
          }
        }
        inputs.append(g);
      }
      panel.append(el("p", { class: "dsc-label" }, "input, zero border = padding"), inputs);
      const weights = el("div", { class: "dsc-weights", "aria-hidden": "true" });
      panel.append(el("p", { class: "dsc-label" }, "weights"), weights);
      const counts = el("dl", { class: "dsc-counts" });
      panel.append(counts);
      panels.append(panel);
      return { layer, cells, weights, counts };
    });
    root.append(panels);

    // The weight tiles of each layer; "on" marks the ones the output uses.
    function drawWeights(view) {
      const { layer, weights } = view;
      weights.textContent = "";
      const tile = (k, on, cls) => {
        const t = el("span", { class: `dsc-tile ${cls}${on ? " dsc-on" : ""}`,
          style: `--cols:${k}`, "data-on": on ? "1" : "0" });
        for (let n = 0; n < k * k; n++) t.append(el("span", { class: "dsc-w" }));
        return t;
      };
      const group = (label, rows) => {
        const box = el("span", { class: "dsc-wgroup" });
        box.append(el("span", { class: "dsc-wname" }, label));
        for (const r of rows) {
          const line = el("span", { class: "dsc-wrow" });
          line.append(...r);
          box.append(line);
        }
        weights.append(box);
      };
      const o = state.out;
      const rowsOf = (k, uses) => Array.from({ length: N }, (_, a) =>
        Array.from({ length: M }, (_, c) => tile(k, uses(a, c), `dsc-ch${c}`)));
      if (layer.kind === "normal") {
        group("W (N, M, 3, 3)", rowsOf(K, (a) => a === o));
      } else if (layer.kind === "depthwise") {
        group("D (M, 1, 3, 3)", [Array.from({ length: M }, (_, c) => tile(K, c === o, `dsc-ch${c}`))]);
      } else if (layer.kind === "pointwise") {
        group("P (N, M, 1, 1)", rowsOf(1, (a) => a === o));
      } else {
        group("D", [Array.from({ length: M }, (_, c) => tile(K, true, `dsc-ch${c}`))]);
        group("P", rowsOf(1, (a) => a === o));
      }
    }

    function update() {
      const { row, col, out } = state;
      buttons.forEach((b, n) => {
        const on = n === row * SIZE + col;
        b.classList.toggle("dsc-selected", on);
        b.setAttribute("aria-pressed", on ? "true" : "false");
        b.tabIndex = on ? 0 : -1;
      });
      for (const view of views) {
        const { layer, cells, counts } = view;
        const half = (layer.window - 1) / 2;
        let read = 0, padded = 0;
        for (const cell of cells) {
          const c = Number(cell.dataset.channel);
          const r = Number(cell.dataset.row), q = Number(cell.dataset.col);
          const inChannel = layer.channels === "all" || c === out;
          const on = inChannel && Math.abs(r - row) <= half && Math.abs(q - col) <= half;
          cell.classList.toggle("dsc-read", on);
          if (on) {
            read += 1;
            if (cell.classList.contains("dsc-pad")) padded += 1;
          }
        }
        drawWeights(view);
        const weightsUsed = view.weights.querySelectorAll(".dsc-on .dsc-w").length;
        counts.textContent = "";
        const add = (term, value, key) => {
          counts.append(el("dt", {}, term), el("dd", { "data-stat": key }, String(value)));
        };
        add("inputs read (zeros of the border included)", read, "inputs");
        add("of them border zeros", padded, "padding");
        add("weights used", weightsUsed, "weights");
        add("multiply-adds for this output", layer.perValue, "macs-value");
        add(`per position, all ${N} outputs`, `${layer.perPosition} = ${layer.sum}`, "macs-position");
      }
      status.textContent = `Output channel ${out}, row ${row}, column ${col}: ` +
        LAYERS.map((l) => `${l.kind} ${l.perPosition}`).join(", ") +
        " multiply-adds per position.";
    }
    update();
  }

  // ------------------------------------------------------------------------
  // Explorer 2: parameters and multiply-adds for any layer

  const FIELDS = [
    { key: "M", label: "input channels M", min: 1, max: 1024, value: 3 },
    { key: "N", label: "output channels N", min: 1, max: 1024, value: 3 },
    { key: "k", label: "kernel size k", min: 1, max: 11, value: 3 },
    { key: "H", label: "input size H = W", min: 1, max: 512, value: 8 },
    { key: "s", label: "stride s", min: 1, max: 4, value: 1 },
    { key: "p", label: "padding p", min: 0, max: 5, value: 1 },
    { key: "d", label: "dilation d", min: 1, max: 4, value: 1 },
  ];

  function buildCost(root) {
    const id = `dsc-cost-${uid++}`;
    root.textContent = "";
    root.classList.add("dsc-ready");
    const values = {};
    const form = el("div", { class: "dsc-form" });
    const inputs = {};
    for (const f of FIELDS) {
      values[f.key] = f.value;
      const row = el("div", { class: "dsc-field" });
      const rangeId = `${id}-${f.key}-range`, numberId = `${id}-${f.key}`;
      const label = el("label", { for: numberId }, f.label);
      const range = el("input", { type: "range", id: rangeId, min: String(f.min),
        max: String(f.max), step: "1", value: String(f.value), "aria-label": `${f.label} (slider)` });
      const number = el("input", { type: "number", id: numberId, min: String(f.min),
        max: String(f.max), step: "1", value: String(f.value), "data-field": f.key });
      const set = (raw, from) => {
        let v = Math.round(Number(raw));
        if (!Number.isFinite(v)) return;
        v = Math.min(f.max, Math.max(f.min, v));
        values[f.key] = v;
        if (from !== range) range.value = String(v);
        if (from !== number) number.value = String(v);
        update();
      };
      range.addEventListener("input", () => set(range.value, range));
      number.addEventListener("input", () => { if (number.value !== "") set(number.value, number); });
      number.addEventListener("change", () => set(number.value === "" ? f.value : number.value, null));
      inputs[f.key] = number;
      row.append(label, range, number);
      form.append(row);
    }
    root.append(form);

    const table = el("table", { class: "dsc-cost-table" });
    table.append(el("caption", {}, "Counts without biases"));
    const head = el("tr");
    for (const h of ["", "parameters", "multiply-adds"]) head.append(el("th", { scope: "col" }, h));
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    const cells = {};
    for (const [key, name] of [["normal", "normal"], ["depthwise", "depthwise"],
      ["pointwise", "pointwise"], ["separable", "separable (depthwise + pointwise)"]]) {
      const tr = el("tr");
      tr.append(el("th", { scope: "row" }, name));
      cells[`${key}-params`] = el("td", { "data-out": `${key}-params` });
      cells[`${key}-macs`] = el("td", { "data-out": `${key}-macs` });
      tr.append(cells[`${key}-params`], cells[`${key}-macs`]);
      tbody.append(tr);
    }
    table.append(thead, tbody);
    const summary = el("p", { class: "dsc-summary", "aria-live": "polite", "data-out": "summary" });
    const outSize = el("span", { "data-out": "output-size" });
    const ratio = el("span", { "data-out": "ratio" });
    const formula = el("span", { "data-out": "formula" });
    const lines = el("p", { class: "dsc-result" });
    lines.append("Output: ", outSize, ". Separable / normal: ", ratio, " = 1/N + 1/k² = ", formula, ".");
    root.append(lines, table, summary);

    function update() {
      const { M: m, N: n, k, H: h, s, p, d } = values;
      const size = outputLength(h, k, s, p, d);
      if (size === 0) {
        outSize.textContent = "none";
        for (const c of Object.values(cells)) c.textContent = "–";
        ratio.textContent = "–";
        formula.textContent = (1 / n + 1 / (k * k)).toFixed(4);
        summary.textContent = `The dilated kernel spans ${d * (k - 1) + 1} pixels, more than ` +
          `the ${h + 2 * p} of the padded input: no output.`;
        root.dataset.valid = "false";
        return;
      }
      root.dataset.valid = "true";
      const positions = size * size;
      const params = { normal: k * k * m * n, depthwise: k * k * m, pointwise: m * n };
      params.separable = params.depthwise + params.pointwise;
      for (const key of Object.keys(params)) {
        cells[`${key}-params`].textContent = fmt(params[key]);
        cells[`${key}-macs`].textContent = fmt(params[key] * positions);
      }
      outSize.textContent = `${size} x ${size}`;
      ratio.textContent = (params.separable / params.normal).toFixed(4);
      formula.textContent = (1 / n + 1 / (k * k)).toFixed(4);
      const times = params.normal / params.separable;
      summary.textContent = times >= 1
        ? `The separable layer needs ${times.toFixed(1)} times fewer parameters and multiply-adds.`
        : `Here the separable layer costs more than the normal one (${(1 / times).toFixed(2)} times as much).`;
    }
    update();
  }

  const start = () => {
    document.documentElement.classList.add("dsc-js");
    for (const root of document.querySelectorAll(".dsc-explorer")) {
      if (root.dataset.explorer === "field") buildField(root);
      else if (root.dataset.explorer === "cost") buildCost(root);
    }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
