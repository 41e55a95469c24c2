// The explorer page: the graph (Graphviz's SVG), a panel for the clicked node, and a stepper
// that walks the reverse pass in the engine's order. Everything it shows comes from the JSON in
// <script id="explorer-data">; nothing is fetched.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  const svg = document.querySelector("#graph svg");
  const panel = document.getElementById("panel");
  const status = document.getElementById("step-status");
  const elements = {};  // node id -> its <g> in the SVG
  for (const g of svg.querySelectorAll("g.node")) {
    const id = g.querySelector("title").textContent.trim();
    if (id in DATA.nodes) {
      elements[id] = g;
      g.addEventListener("click", () => show(id));
    }
  }

  // -- arrays --------------------------------------------------------------------------------
  const cache = new Map();
  function values(enc) {  // base64 little-endian float32 -> Float32Array
    if (!cache.has(enc.data)) {
      const bytes = Uint8Array.from(atob(enc.data), (c) => c.charCodeAt(0));
      cache.set(enc.data, new Float32Array(bytes.buffer));
    }
    return cache.get(enc.data);
  }
  const fmt = (x) => (x === null || x === undefined ? "-" : Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toPrecision(4));

  function statsTable(enc) {
    const s = enc.stats;
    const rows = [["shape", "(" + enc.shape.join(", ") + ")"], ["min", fmt(s.min)], ["max", fmt(s.max)],
      ["mean", fmt(s.mean)], ["std", fmt(s.std)], ["zeros", s.zeros === undefined ? "-" : (100 * s.zeros).toFixed(1) + "%"]];
    if (s.nonfinite) rows.push(["Inf/NaN", String(s.nonfinite)]);
    let html = "<table class='stats'>" + rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join("") + "</table>";
    if (enc.sampled) html += `<p class='note'>sampled: ${enc.sampled} (shape kept: (${enc.kept.join(", ")}))</p>`;
    return html;
  }

  // a heatmap per channel for (N, C, H, W) and (C, H, W) (the first image), a histogram otherwise
  function picture(enc, title) {
    const box = document.createElement("div");
    box.className = "picture";
    box.innerHTML = `<h4>${title}</h4>` + statsTable(enc);
    const v = values(enc), k = enc.kept;
    if ((k.length === 4 || k.length === 3) && k[k.length - 1] > 1 && k[k.length - 2] > 1) {
      const [c, h, w] = k.slice(-3);
      const maps = document.createElement("div");
      maps.className = "maps";
      let lo = Infinity, hi = -Infinity;
      for (let i = 0; i < c * h * w; i++) if (isFinite(v[i])) { lo = Math.min(lo, v[i]); hi = Math.max(hi, v[i]); }
      const shown = Math.min(c, 64);
      for (let ch = 0; ch < shown; ch++) maps.appendChild(heatmap(v, ch * h * w, h, w, lo, hi, `channel ${ch}`));
      box.appendChild(maps);
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = `image 0, ${shown} of ${c} channels; colour scale ${fmt(lo)} (blue) .. 0 (white) .. ${fmt(hi)} (red)`;
      box.appendChild(note);
    } else {
      box.appendChild(histogram(v));
    }
    return box;
  }

  // the one colour scale of every heatmap: x in -1 .. 1 is blue .. white .. red, as [r, g, b]
  function colour(x) {
    const r = x >= 0 ? 255 : Math.round(255 * (1 + x)), b = x <= 0 ? 255 : Math.round(255 * (1 - x));
    return [r, Math.round(255 * (1 - Math.abs(x))), b];
  }

  // the tensor an op made (its output's node id)
  const outputOf = (opId) => Object.keys(DATA.nodes).find((k) => DATA.nodes[k].made_by === opId);

  function heatmap(v, offset, h, w, lo, hi, label) {
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    canvas.title = label;
    canvas.className = "heatmap";
    canvas.dataset.offset = offset; canvas.dataset.h = h; canvas.dataset.w = w;
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
    const top = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    for (let i = 0; i < h * w; i++) {
      img.data.set([...colour(v[offset + i] / top), 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
    const scale = Math.max(3, 48 / Math.max(h, w));
    canvas.style.width = w * scale + "px";
    canvas.style.height = h * scale + "px";
    return canvas;
  }

  function histogram(v) {
    const canvas = document.createElement("canvas");
    canvas.width = 240; canvas.height = 80; canvas.className = "histogram";
    const finite = Array.from(v).filter(isFinite);
    if (!finite.length) return canvas;
    let lo = Math.min(...finite.slice(0, 100000)), hi = Math.max(...finite.slice(0, 100000));
    if (lo === hi) { lo -= 0.5; hi += 0.5; }
    const bins = new Array(40).fill(0);
    for (const x of finite) bins[Math.min(39, Math.floor((x - lo) / (hi - lo) * 40))]++;
    const ctx = canvas.getContext("2d"), top = Math.max(...bins);
    ctx.fillStyle = "#4a6fa5";
    bins.forEach((n, i) => ctx.fillRect(i * 6, 80 - 78 * n / top, 5, 78 * n / top));
    canvas.title = `histogram: ${fmt(lo)} .. ${fmt(hi)}`;
    return canvas;
  }

  // -- the panel -----------------------------------------------------------------------------
  function show(id, gradient) {
    const n = DATA.nodes[id];
    for (const g of Object.values(elements)) g.classList.remove("selected");
    if (elements[id]) elements[id].classList.add("selected");
    panel.innerHTML = "";
    panel.dataset.node = id;
    const head = document.createElement("div");
    const name = n.kind === "op" ? n.op : n.label.split("\n")[0] || n.kind;
    head.innerHTML = `<h3>${escape(name)} <span class='kind'>${n.kind} ${id}</span></h3>` +
      (n.scope.length ? `<p class='scope'>in ${n.scope.map(escape).join(" / ")}</p>` : "");
    panel.appendChild(head);
    if (n.kind === "op") {
      const ins = n.inputs.map((i) => i.id ? `${i.id} (${i.shape.join(", ")}) ${i.dtype}` : `constant ${fmt(i.const)}`);
      const attrs = Object.entries(n.attrs).map(([k, v]) => `<tr><th>${escape(k)}</th><td>${escape(v)}</td></tr>`).join("");
      panel.insertAdjacentHTML("beforeend",
        `<p class='vjp'><b>VJP</b> ${escape(n.vjp)}</p><p><b>inputs</b> ${ins.map(escape).join("; ")}</p>` +
        (attrs ? `<table class='attrs'>${attrs}</table>` : ""));
      const out = outputOf(id);
      if (out) panel.insertAdjacentHTML("beforeend", `<p><b>output</b> ${out} (${DATA.nodes[out].shape.join(", ")}) ${DATA.nodes[out].dtype}</p>`);
      const verdict = DATA.checks && DATA.checks[id];
      if (verdict) panel.insertAdjacentHTML("beforeend", `<p class='check ${verdict.ok ? "ok" : "bad"}'><b>check_graph</b> ${escape(verdict.text)}</p>`);
      if (out) {
        panel.appendChild(picture(DATA.nodes[out].value, "forward value (its output)"));
        if (DATA.nodes[out].grad) panel.appendChild(picture(DATA.nodes[out].grad, "gradient at its output"));
      }
      const anim = (n.op === "conv2d" || n.op === "pool2d") ? animator(id) : null;
      if (anim) panel.appendChild(anim);
    } else {
      panel.insertAdjacentHTML("beforeend", `<p>${escape(n.dtype)}; ${n.made_by ? "made by " + n.made_by : "a leaf"}${n.used_by ? "; used by " + n.used_by.join(", ") : ""}</p>`);
      panel.appendChild(picture(n.value, "forward value"));
      if (gradient) panel.appendChild(picture(gradient, "gradient arriving"));
      else if (n.grad) panel.appendChild(picture(n.grad, "gradient (complete)"));
      const leaf = DATA.leaves[id];
      if (leaf && leaf.match) panel.insertAdjacentHTML("beforeend", `<p class='check ok'>${escape(leaf.match)}</p>`);
    }
  }

  // -- the backward of a conv or pool, one output position at a time --------------------------
  // Image 0; for a convolution one (output channel, input channel) pair, for a pooling one
  // channel. Each position of dY sends dY[oy, ox] * W into its window of dX (conv) or to the
  // window's first maximum (max pool) or evenly over it (avg pool); the conv's dW[co, ci]
  // collects X's window times dY[oy, ox]. The sums build up on the page as the positions run.
  function planeOf(enc, index) {  // [values, h, w] of plane `index` of the kept (N, C, H, W)
    const k = enc.kept, h = k[k.length - 2], w = k[k.length - 1];
    return [values(enc).subarray(index * h * w, (index + 1) * h * w), h, w];
  }

  function animation(opId, co, ci) {
    const op = DATA.nodes[opId], g = op.geometry;
    const out = outputOf(opId);
    const xEnc = DATA.nodes[op.inputs[0].id].value, dyEnc = DATA.nodes[out].grad;
    const conv = op.op === "conv2d";
    const cin = xEnc.shape[1], cout = dyEnc.shape[1];
    const perGroup = cin / (op.groups || 1);
    const ciLocal = conv ? ci - Math.floor(co / (cout / op.groups)) * perGroup : 0;
    const [x, h, w] = planeOf(xEnc, conv ? ci : co);
    const [dy, ho, wo] = planeOf(dyEnc, co);
    const kernel = conv ? planeOf(DATA.nodes[op.inputs[1].id].value, co * perGroup + ciLocal)[0] : null;
    const state = { op: opId, co, ci, h, w, ho, wo, kh: g.kh, kw: g.kw, position: 0,
      dx: new Float64Array(h * w), dw: conv ? new Float64Array(g.kh * g.kw) : null, last: null };
    function window(oy, ox) {  // [[ky, kx, iy, ix], ...] of the valid input positions
      const cells = [];
      for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
        const iy = oy * g.sh - g.pt + ky * g.dh, ix = ox * g.sw - g.pl + kx * g.dw;
        if (iy >= 0 && iy < h && ix >= 0 && ix < w) cells.push([ky, kx, iy, ix]);
      }
      return cells;
    }
    function divisor(oy, ox) {  // avg pooling: the window's size, padding included or not
      if (!op.count_include_pad) return window(oy, ox).length;
      const [pt, pb, pl, pr] = op.divisor_pads;
      let n = 0;
      for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
        const iy = oy * g.sh - g.pt + ky * g.dh, ix = ox * g.sw - g.pl + kx * g.dw;
        if (iy >= -pt && iy < h + pb && ix >= -pl && ix < w + pr) n++;
      }
      return n;
    }
    state.step = function () {
      if (state.position >= ho * wo) return false;
      const oy = Math.floor(state.position / wo), ox = state.position % wo, d = dy[state.position];
      const cells = window(oy, ox);
      let to = [];
      if (conv) {
        for (const [ky, kx, iy, ix] of cells) {
          state.dx[iy * w + ix] += d * kernel[ky * g.kw + kx];
          state.dw[ky * g.kw + kx] += x[iy * w + ix] * d;
        }
        to = cells;
      } else if (op.mode === "max") {
        let best = null;
        for (const c of cells) if (best === null || x[c[2] * w + c[3]] > x[best[2] * w + best[3]]) best = c;
        if (best) { state.dx[best[2] * w + best[3]] += d; to = [best]; }
      } else {
        const n = divisor(oy, ox);
        for (const [, , iy, ix] of cells) state.dx[iy * w + ix] += d / n;
        to = cells;
      }
      state.last = { oy, ox, d, cells, to };
      state.position++;
      return true;
    };
    state.all = function () { while (state.step()); };
    return state;
  }

  function grid(v, h, w, boxes, title) {  // a heatmap drawn cell by cell, with outlined cells
    const s = Math.max(4, Math.min(16, Math.floor(160 / Math.max(h, w))));
    const canvas = document.createElement("canvas");
    canvas.width = w * s; canvas.height = h * s; canvas.title = title; canvas.className = "grid";
    const ctx = canvas.getContext("2d");
    let top = 0;
    for (const x of v) if (isFinite(x)) top = Math.max(top, Math.abs(x));
    top = top || 1;
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      ctx.fillStyle = `rgb(${colour(v[i * w + j] / top).join(",")})`;
      ctx.fillRect(j * s, i * s, s, s);
    }
    for (const [cells, colour] of boxes) {
      ctx.strokeStyle = colour; ctx.lineWidth = 2;
      for (const [i, j] of cells) ctx.strokeRect(j * s + 1, i * s + 1, s - 2, s - 2);
    }
    const fig = document.createElement("figure");
    fig.appendChild(canvas);
    fig.insertAdjacentHTML("beforeend", `<figcaption>${escape(title)}</figcaption>`);
    return fig;
  }

  function animator(opId) {
    const op = DATA.nodes[opId];
    const out = outputOf(opId);
    if (!out || !DATA.nodes[out].grad || !op.geometry) return null;
    const conv = op.op === "conv2d";
    if (conv && op.groups !== 1) {
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = "The step-by-step backward is drawn for convolutions with groups=1.";
      return note;
    }
    const xEnc = DATA.nodes[op.inputs[0].id].value, dyEnc = DATA.nodes[out].grad;
    const box = document.createElement("div");
    box.className = "animation";
    const wEnc = conv ? DATA.nodes[op.inputs[1].id].value : null;
    const outs = conv ? Math.min(dyEnc.kept[1], wEnc.kept[0]) : Math.min(dyEnc.kept[1], xEnc.kept[1]);
    const options = (n) => Array.from({ length: n }, (_, i) => `<option value="${i}">${i}</option>`).join("");
    box.innerHTML = `<h4>Its backward, one output position at a time (image 0)</h4>` +
      `<label>${conv ? "output channel" : "channel"} <select class="co">${options(outs)}</select></label> ` +
      (conv ? `<label>input channel <select class="ci">${options(Math.min(xEnc.kept[1], wEnc.kept[1]))}</select></label> ` : "") +
      `<button class="a-reset">reset</button> <button class="a-step">next position</button> <button class="a-all">all positions</button>` +
      `<p class="a-text"></p><div class="a-grids"></div>`;
    let state = null;
    const draw = () => {
      const l = state.last, grids = box.querySelector(".a-grids");
      grids.innerHTML = "";
      const [x] = planeOf(xEnc, conv ? state.ci : state.co), [dy] = planeOf(dyEnc, state.co);
      const pos = l ? [[l.oy, l.ox]] : [], win = l ? l.cells.map((c) => [c[2], c[3]]) : [], to = l ? l.to.map((c) => [c[2], c[3]]) : [];
      grids.appendChild(grid(x, state.h, state.w, [[win, "#444"]], "X (input)"));
      grids.appendChild(grid(dy, state.ho, state.wo, [[pos, "#e07b00"]], "dY (arriving)"));
      if (conv) grids.appendChild(grid(kernelPlane(), state.kh, state.kw, [], "W[co, ci]"));
      grids.appendChild(grid(state.dx, state.h, state.w, [[to, "#d43"]], conv ? "dX so far (this output channel's part)" : "dX so far"));
      if (conv) grids.appendChild(grid(state.dw, state.kh, state.kw, [], "dW[co, ci] so far (image 0)"));
      const text = box.querySelector(".a-text");
      if (!l) text.textContent = `position 0 of ${state.ho * state.wo}: press "next position"`;
      else text.textContent = `position ${state.position} of ${state.ho * state.wo}: dY[${l.oy}, ${l.ox}] = ${fmt(l.d)} ` +
        (conv ? `spreads into dX's ${l.cells.length} window cells as dY * W, and dW += X's window * dY` :
          op.mode === "max" ? `goes to its window's first maximum` : `spreads evenly over its window`);
    };
    const kernelPlane = () => {
      const perGroup = xEnc.shape[1] / op.groups, ciLocal = state.ci - Math.floor(state.co / (dyEnc.shape[1] / op.groups)) * perGroup;
      return planeOf(DATA.nodes[op.inputs[1].id].value, state.co * perGroup + ciLocal)[0];
    };
    const restart = () => {
      const co = +box.querySelector(".co").value, ci = conv ? +box.querySelector(".ci").value : 0;
      state = animation(opId, co, ci); draw();
    };
    box.querySelector(".co").addEventListener("change", restart);
    if (conv) box.querySelector(".ci").addEventListener("change", restart);
    box.querySelector(".a-reset").addEventListener("click", restart);
    box.querySelector(".a-step").addEventListener("click", () => { state.step(); draw(); });
    box.querySelector(".a-all").addEventListener("click", () => { state.all(); draw(); });
    restart();
    box.state = () => state;
    return box;
  }

  function escape(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  }

  // -- the stepper ---------------------------------------------------------------------------
  let at = -1;
  function go(k) {
    at = Math.max(-1, Math.min(DATA.steps.length - 1, k));
    for (const g of Object.values(elements)) g.classList.remove("current", "receiving", "done");
    for (let i = 0; i <= at; i++) {
      const s = DATA.steps[i];
      if (s.op && elements[s.op]) elements[s.op].classList.add("done");
    }
    if (at < 0) { status.textContent = `step 0 of ${DATA.steps.length}: press -> to start the reverse pass`; return; }
    const s = DATA.steps[at];
    const target = s.op || s.tensor;
    if (elements[target]) elements[target].classList.add("current");
    for (const send of s.sends || []) if (elements[send.to]) elements[send.to].classList.add("receiving");
    show(s.tensor, DATA.nodes[s.tensor].grad);
    const fan = s.sum_of.length > 1 ? `; its gradient is the sum of ${s.sum_of.length} contributions (from ${s.sum_of.join(", ")})` : "";
    const what = s.op ? `${DATA.nodes[s.op].op} (${s.op}) sends ${s.sends.map((x) => x.to).join(", ") || "nothing"}` : `leaf ${s.tensor}: its gradient is complete`;
    status.textContent = `step ${at + 1} of ${DATA.steps.length}: ${s.tensor}${fan}; ${what}`;
    if (s.sends && s.sends.length) {
      const box = document.createElement("div");
      box.innerHTML = "<h4>sent to the inputs</h4>";
      for (const send of s.sends) {
        const part = send.grad ? "its part of the sum" : "its whole gradient";
        box.appendChild(picture(send.grad || DATA.nodes[send.to].grad, `to ${send.to} (${part})`));
      }
      panel.appendChild(box);
    }
  }
  document.getElementById("prev").addEventListener("click", () => go(at - 1));
  document.getElementById("next").addEventListener("click", () => go(at + 1));
  document.getElementById("reset").addEventListener("click", () => go(-1));
  document.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight") go(at + 1);
    if (e.key === "ArrowLeft") go(at - 1);
  });

  // -- zoom and pan --------------------------------------------------------------------------
  const box = svg.viewBox.baseVal;
  const home = [box.x, box.y, box.width, box.height];
  svg.removeAttribute("width"); svg.removeAttribute("height");
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const f = e.deltaY > 0 ? 1.15 : 1 / 1.15, r = svg.getBoundingClientRect();
    const px = box.x + (e.clientX - r.left) / r.width * box.width, py = box.y + (e.clientY - r.top) / r.height * box.height;
    box.x = px - (px - box.x) * f; box.y = py - (py - box.y) * f; box.width *= f; box.height *= f;
  }, { passive: false });
  let drag = null;
  svg.addEventListener("mousedown", (e) => { drag = [e.clientX, e.clientY]; });
  window.addEventListener("mouseup", () => { drag = null; });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const r = svg.getBoundingClientRect();
    box.x -= (e.clientX - drag[0]) / r.width * box.width; box.y -= (e.clientY - drag[1]) / r.height * box.height;
    drag = [e.clientX, e.clientY];
  });
  document.getElementById("fit").addEventListener("click", () => { [box.x, box.y, box.width, box.height] = home; });

  // -- check_graph's verdicts (run at export) -------------------------------------------------
  let checked = false;
  document.getElementById("check").addEventListener("click", () => {
    checked = !checked;
    if (!DATA.checks) {
      status.textContent = "check_graph did not run for this page: export it with explore(loss, check=True) (or explore --check)";
      return;
    }
    let bad = 0, skipped = 0, total = 0;
    for (const [id, c] of Object.entries(DATA.checks)) {
      total++; bad += c.state === "bad"; skipped += c.state === "skipped";
      if (elements[id]) elements[id].classList.toggle("check-" + c.state, checked);
    }
    status.textContent = checked ? `check_graph: ${total - bad - skipped} ops agree with finite differences, ${bad} do not, ${skipped} skipped (green, red, grey); click an op for its numbers` : "";
  });

  window.explorer = { data: DATA, values, show, go, animation, get step() { return at; }, elements };
  go(-1);
})();
