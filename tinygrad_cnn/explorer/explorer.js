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

  function heatmap(v, offset, h, w, lo, hi, label) {
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    canvas.title = label;
    canvas.className = "heatmap";
    canvas.dataset.offset = offset; canvas.dataset.h = h; canvas.dataset.w = w;
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
    const top = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    for (let i = 0; i < h * w; i++) {
      const x = v[offset + i] / top;  // -1 .. 1: blue .. white .. red
      const r = x >= 0 ? 255 : Math.round(255 * (1 + x)), b = x <= 0 ? 255 : Math.round(255 * (1 - x));
      const g = Math.round(255 * (1 - Math.abs(x)));
      img.data.set([r, g, b, 255], 4 * i);
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
      const out = Object.keys(DATA.nodes).find((k) => DATA.nodes[k].made_by === id);
      if (out) panel.insertAdjacentHTML("beforeend", `<p><b>output</b> ${out} (${DATA.nodes[out].shape.join(", ")}) ${DATA.nodes[out].dtype}</p>`);
      const verdict = DATA.checks && DATA.checks[id];
      if (verdict) panel.insertAdjacentHTML("beforeend", `<p class='check ${verdict.ok ? "ok" : "bad"}'><b>check_graph</b> ${escape(verdict.text)}</p>`);
      if (out) {
        panel.appendChild(picture(DATA.nodes[out].value, "forward value (its output)"));
        if (DATA.nodes[out].grad) panel.appendChild(picture(DATA.nodes[out].grad, "gradient at its output"));
      }
    } else {
      panel.insertAdjacentHTML("beforeend", `<p>${escape(n.dtype)}; ${n.made_by ? "made by " + n.made_by : "a leaf"}${n.used_by ? "; used by " + n.used_by.join(", ") : ""}</p>`);
      panel.appendChild(picture(n.value, "forward value"));
      if (gradient) panel.appendChild(picture(gradient, "gradient arriving"));
      else if (n.grad) panel.appendChild(picture(n.grad, "gradient (complete)"));
      const leaf = DATA.leaves[id];
      if (leaf && leaf.match) panel.insertAdjacentHTML("beforeend", `<p class='check ok'>${escape(leaf.match)}</p>`);
    }
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

  window.explorer = { data: DATA, values, show, go, get step() { return at; }, elements };
  go(-1);
})();
