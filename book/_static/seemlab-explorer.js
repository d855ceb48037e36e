/* The toy explorer of the classroom page, offline: plain JavaScript and SVG, no library.
 *
 * seemlab.toy.explore.explorer_html writes <div class="seemlab-explorer"> with the precomputed
 * grid as JSON (seemlab.toy.explore.precompute: axes gamma, width, lr, layernorm; runs in
 * itertools.product order of the axes, each {t, td, seem_t, seem, ntk_next, ntk_self, crash}).
 * This script adds a slider per numeric axis, a LayerNorm toggle and three panels (TD error,
 * normalized SEEM, one-point NTK), and redraws the panels from the data when a control moves.
 */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = { td: "#0173b2", seem: "#d55e00", next: "#0173b2", self: "#de8f05", crash: "#c00000" };
  var W = 320, H = 250, M = { l: 68, r: 12, t: 26, b: 48 };
  var BLOWUP = 1e6; // the toy's divergence criterion: the TD panel is cut at 2x this

  function el(tag, attrs, parent, ns) {
    var node = ns ? document.createElementNS(SVG, tag) : document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function svgEl(tag, attrs, parent) { return el(tag, attrs, parent, true); }
  function text(parent, x, y, str, attrs) {
    var node = svgEl("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    node.textContent = str;
    return node;
  }
  function fmt(v) {
    if (v === 0) return "0";
    var a = Math.abs(v);
    return (a >= 1e4 || a < 1e-2) ? v.toExponential(1).replace("e+", "e") : String(+v.toPrecision(3));
  }

  /* Round tick values over [lo, hi]: about n of them at 1, 2 or 5 times a power of ten. */
  function linearTicks(lo, hi, n) {
    var raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), step = mag;
    [1, 2, 5, 10].forEach(function (m) { if (raw > m * mag * 0.999) step = m * mag; });
    if ((hi - lo) / step > n * 1.5) step *= 2;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  function extent(series, log) {
    var lo = Infinity, hi = -Infinity;
    series.forEach(function (s) {
      s.y.forEach(function (v) {
        if (v === null || !isFinite(v) || (log && v <= 0)) return;
        lo = Math.min(lo, v); hi = Math.max(hi, v);
      });
    });
    if (lo === Infinity) { lo = log ? 1e-3 : 0; hi = log ? 1 : 1; }
    return [lo, hi];
  }

  /* One panel: opts = {title, xlabel, ylabel, log, xmax, series: [{x, y, color, label, dash}],
     ymaxCap, zeroLine, crash}. */
  function panel(svg, opts) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var pw = W - M.l - M.r, ph = H - M.t - M.b;
    var ext = extent(opts.series, opts.log), lo = ext[0], hi = ext[1];
    if (opts.ymaxCap) hi = Math.min(hi, opts.ymaxCap);
    var ticks;
    if (opts.log) {
      var a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
      if (b <= a) b = a + 1;
      lo = Math.pow(10, a); hi = Math.pow(10, b);
      var every = Math.ceil((b - a) / 6);
      ticks = [];
      for (var e = a; e <= b; e += every) ticks.push(Math.pow(10, e));
    } else {
      if (opts.zeroLine) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
      var pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 0.1;
      lo -= pad; hi += pad;
      ticks = linearTicks(lo, hi, 5);
    }
    var sx = function (x) { return M.l + pw * x / opts.xmax; };
    var sy = opts.log
      ? function (y) { return M.t + ph * (1 - (Math.log10(y) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))); }
      : function (y) { return M.t + ph * (1 - (y - lo) / (hi - lo)); };
    var grid = svgEl("g", { "class": "grid" }, svg);
    ticks.forEach(function (v) {
      var y = sy(v);
      svgEl("line", { x1: M.l, x2: M.l + pw, y1: y, y2: y }, grid);
      text(svg, M.l - 5, y + 4, opts.log ? "1e" + Math.round(Math.log10(v)) : fmt(v), { "text-anchor": "end", "class": "tick" });
    });
    linearTicks(0, opts.xmax, 4).forEach(function (v) {
      var x = sx(v);
      svgEl("line", { x1: x, x2: x, y1: M.t, y2: M.t + ph }, grid);
      text(svg, x, M.t + ph + 16, fmt(v), { "text-anchor": "middle", "class": "tick" });
    });
    svgEl("rect", { x: M.l, y: M.t, width: pw, height: ph, "class": "frame" }, svg);
    if (opts.zeroLine && lo < 0 && hi > 0) {
      svgEl("line", { x1: M.l, x2: M.l + pw, y1: sy(0), y2: sy(0), "class": "zero" }, svg);
    }
    var clipId = "clip" + Math.random().toString(36).slice(2);
    var clip = svgEl("clipPath", { id: clipId }, svgEl("defs", {}, svg));
    svgEl("rect", { x: M.l, y: M.t, width: pw, height: ph }, clip);
    opts.series.forEach(function (s) {
      var d = "", pen = false;
      for (var i = 0; i < s.x.length; i++) {
        var v = s.y[i];
        if (v === null || !isFinite(v) || (opts.log && v <= 0)) { pen = false; continue; }
        var y = Math.max(Math.min(sy(v), M.t + ph + 50), M.t - 50);
        d += (pen ? "L" : "M") + sx(s.x[i]).toFixed(1) + "," + y.toFixed(1);
        pen = true;
      }
      svgEl("path", { d: d, stroke: s.color, "stroke-dasharray": s.dash || "none", "class": "curve",
                      "clip-path": "url(#" + clipId + ")", "data-series": s.label }, svg);
    });
    if (opts.crash !== null && opts.crash !== undefined) {
      var cx = sx(opts.crash);
      svgEl("line", { x1: cx, x2: cx, y1: M.t, y2: M.t + ph, stroke: COLORS.crash, "class": "crash" }, svg);
      text(svg, cx - 3, M.t + ph - 5, "NaN at " + opts.crash, { "text-anchor": "end", fill: COLORS.crash, "class": "tick" });
    }
    var legend = opts.series.filter(function (s) { return s.legend; });
    legend.forEach(function (s, i) {
      var y = M.t + 16 + 15 * i;
      svgEl("line", { x1: M.l + 8, x2: M.l + 26, y1: y - 3.5, y2: y - 3.5, stroke: s.color, "stroke-width": 2,
                      "stroke-dasharray": s.dash || "none" }, svg);
      text(svg, M.l + 30, y, s.legend, { "class": "tick" });
    });
    text(svg, M.l + pw / 2, 17, opts.title, { "text-anchor": "middle", "class": "title" });
    text(svg, M.l + pw / 2, H - 8, opts.xlabel, { "text-anchor": "middle", "class": "label" });
    text(svg, 0, 0, opts.ylabel, { "text-anchor": "middle", "class": "label",
                                    transform: "translate(16," + (M.t + ph / 2) + ") rotate(-90)" });
  }

  function label(axis, value) {
    if (axis === "gamma") return "γ = " + value;
    if (axis === "width") return "width " + value;
    if (axis === "lr") return "learning rate " + value;
    return "LayerNorm " + (value ? "on" : "off");
  }

  function summary(values, run, steps) {
    var seem = run.seem.filter(function (v) { return v !== null; });
    var outcome = run.crash === null ? "no crash in " + steps + " steps" : "crashed (NaN) at step " + run.crash;
    return ["gamma", "width", "lr", "layernorm"].map(function (k) { return label(k, values[k]); }).join(", ") +
      ": " + outcome + "; last normalized SEEM " + (seem.length ? seem[seem.length - 1].toFixed(3) : "n/a");
  }

  function build(root) {
    var data = JSON.parse(root.querySelector("script.seemlab-explorer-data").textContent);
    var axes = data.axes, names = ["gamma", "width", "lr", "layernorm"];
    var fallback = root.querySelector(".seemlab-explorer-fallback");
    if (fallback) fallback.remove();
    var controls = el("form", { "class": "seemlab-explorer-controls" }, root);
    controls.addEventListener("submit", function (e) { e.preventDefault(); });
    var inputs = {}, outputs = {};
    var start = { gamma: axes.gamma.length - 1, width: axes.width.length - 1, lr: Math.floor(axes.lr.length / 2) };
    names.forEach(function (name) {
      var box = el("label", { "class": "control control-" + name }, controls);
      if (name === "layernorm") {
        inputs[name] = el("input", { type: "checkbox", name: name }, box);
        el("span", {}, box).textContent = " LayerNorm";
        return;
      }
      el("span", { "class": "control-name" }, box).textContent =
        { gamma: "γ (discount)", width: "width", lr: "learning rate" }[name];
      inputs[name] = el("input", { type: "range", name: name, min: 0, max: axes[name].length - 1, step: 1,
                                   value: start[name], "aria-label": name }, box);
      outputs[name] = el("output", { "for": name }, box);
    });
    var caption = el("p", { "class": "seemlab-explorer-summary", "aria-live": "polite" }, root);
    var figure = el("div", { "class": "seemlab-explorer-panels" }, root);
    var svgs = ["td", "seem", "ntk"].map(function (kind) {
      return svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "class": "panel-" + kind }, figure);
    });
    var alts = [
      "TD error ‖u_t‖ on a log scale over SGD steps for the chosen setting",
      "Normalized SEEM over SGD steps for the chosen setting",
      "γ|k(x*_0, x_0)| and k(x_0, x_0) on a log scale over SGD steps for the chosen setting",
    ];

    function redraw() {
      var idx = names.map(function (n) {
        return n === "layernorm" ? (inputs[n].checked ? axes.layernorm.indexOf(true) : axes.layernorm.indexOf(false))
                                 : +inputs[n].value;
      });
      var flat = 0;
      names.forEach(function (n, i) { flat = flat * axes[n].length + idx[i]; });
      var run = data.runs[flat], values = {};
      names.forEach(function (n, i) { values[n] = axes[n][idx[i]]; if (outputs[n]) outputs[n].textContent = values[n]; });
      caption.textContent = summary(values, run, data.steps);
      root.setAttribute("data-shown", flat);
      panel(svgs[0], { title: "TD error", xlabel: "SGD step t", ylabel: "TD error ‖u_t‖ (log)", log: true,
                       xmax: data.steps, ymaxCap: 2 * BLOWUP, crash: run.crash,
                       series: [{ x: run.t, y: run.td, color: COLORS.td, label: "td" }] });
      panel(svgs[1], { title: "SEEM", xlabel: "SGD step t", ylabel: "normalized SEEM", xmax: data.steps,
                       zeroLine: true, crash: run.crash,
                       series: [{ x: run.seem_t, y: run.seem, color: COLORS.seem, label: "seem" }] });
      panel(svgs[2], { title: "one data point", xlabel: "SGD step t", ylabel: "NTK (log)", log: true,
                       xmax: data.steps, crash: run.crash,
                       series: [{ x: run.seem_t, y: run.ntk_next, color: COLORS.next, label: "ntk_next",
                                  legend: "γ|k(x*₀, x₀)|" },
                                { x: run.seem_t, y: run.ntk_self, color: COLORS.self, label: "ntk_self",
                                  legend: "k(x₀, x₀)", dash: "5,3" }] });
      svgs.forEach(function (svg, i) { svg.setAttribute("aria-label", alts[i] + ": " + caption.textContent); });
    }
    names.forEach(function (n) {
      inputs[n].addEventListener("input", redraw);
      inputs[n].addEventListener("change", redraw);
    });
    redraw();
    root.classList.add("ready");
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".seemlab-explorer:not(.ready)"), function (root) {
      try { build(root); } catch (err) {
        root.setAttribute("data-error", String(err));
        el("p", { "class": "seemlab-explorer-error" }, root).textContent = "The explorer failed to draw: " + err;
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
