/* rmtfit report: inlined into report.html. Draws every chart from the data the page embeds
 * (the JSON block with id "rmtfit-data"): no library, no network, no eval.
 * Text from the checkpoint (layer names) only ever goes through textContent. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("rmtfit-data").textContent);
  var BY_ID = {};
  DATA.layers.forEach(function (rec) { BY_ID[rec.id] = rec; });
  var BAND_COLOURS = ["rgba(30,136,229,0.22)", "rgba(229,57,53,0.16)", "rgba(67,160,71,0.18)"];
  var BAND_EDGES = ["#1e88e5", "#e53935", "#43a047"];
  var PHASE_COLOURS = DATA.phase_colours;
  var state = { id: null, scale: "log" };
  document.documentElement.classList.add("js");

  // ------------------------------------------------------------------ numbers and scales
  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1).replace("e+", "e");
    return String(Number(v.toPrecision(3)));
  }
  function niceTicks(lo, hi) {
    var span = hi - lo;
    if (!(span > 0)) return [lo];
    var step = Math.pow(10, Math.floor(Math.log10(span / 5)));
    var err = span / 5 / step;
    step *= err >= 5 ? 5 : err >= 2 ? 2 : 1;
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(t);
    return out;
  }
  function logTicks(lo, hi) {
    var a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
    var subs = b - a <= 2 ? [1, 2, 5] : b - a <= 5 ? [1, 3] : [1];
    var out = [];
    for (var k = a; k <= b; k++) {
      subs.forEach(function (s) {
        var t = s * Math.pow(10, k);
        if (t >= lo * 0.999 && t <= hi * 1.001) out.push(t);
      });
    }
    return out;
  }
  function Scale(lo, hi, log, a, b) {
    var f = log ? Math.log10 : function (v) { return v; };
    var flo = f(lo), fhi = f(hi);
    if (!(fhi > flo)) { fhi = flo + 1; }
    this.map = function (v) { return a + (f(v) - flo) / (fhi - flo) * (b - a); };
    this.inverse = function (p) {
      var u = flo + (p - a) / (b - a) * (fhi - flo);
      return log ? Math.pow(10, u) : u;
    };
    this.ticks = function () { return log ? logTicks(lo, hi) : niceTicks(lo, hi); };
    this.lo = lo; this.hi = hi; this.log = log;
  }

  // ------------------------------------------------------------------ a small canvas plot
  function Plot(canvas, xs, ys, margin) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 600, h = canvas.clientHeight || 300;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    var g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "11px system-ui, sans-serif";
    this.g = g; this.w = w; this.h = h; this.m = margin;
    this.x = new Scale(xs[0], xs[1], xs[2], margin[3], w - margin[1]);
    this.y = new Scale(ys[0], ys[1], ys[2], h - margin[2], margin[0]);
  }
  Plot.prototype.clip = function (fn) {
    var g = this.g, m = this.m;
    g.save(); g.beginPath();
    g.rect(m[3], m[0], this.w - m[1] - m[3], this.h - m[0] - m[2]); g.clip();
    fn(g); g.restore();
  };
  Plot.prototype.axes = function (xlabel, ylabel, xTicks) {
    var g = this.g, m = this.m, self = this, bottom = this.h - m[2];
    g.strokeStyle = "#8c959f"; g.fillStyle = "#1f2328"; g.lineWidth = 1;
    g.strokeRect(m[3], m[0], this.w - m[1] - m[3], bottom - m[0]);
    g.textAlign = "center"; g.textBaseline = "top";
    (xTicks || this.x.ticks()).forEach(function (t) {
      var p = self.x.map(t);
      g.beginPath(); g.moveTo(p, bottom); g.lineTo(p, bottom + 4); g.stroke();
      g.fillText(fmt(t), p, bottom + 6);
    });
    g.textAlign = "right"; g.textBaseline = "middle";
    this.y.ticks().forEach(function (t) {
      var p = self.y.map(t);
      g.beginPath(); g.moveTo(m[3] - 4, p); g.lineTo(m[3], p); g.stroke();
      g.fillText(fmt(t), m[3] - 6, p);
    });
    g.textAlign = "center"; g.textBaseline = "bottom";
    g.fillText(xlabel, m[3] + (this.w - m[1] - m[3]) / 2, this.h - 2);
    g.save(); g.translate(12, m[0] + (bottom - m[0]) / 2); g.rotate(-Math.PI / 2);
    g.textBaseline = "middle"; g.fillText(ylabel, 0, 0); g.restore();
  };
  Plot.prototype.steps = function (edges, lo, hi, fill, stroke) {
    // lo === null: an outline from the bottom of the axes; otherwise a band between lo and hi
    var self = this, floor = this.y.log ? this.y.lo : 0;
    function yv(v) { return self.y.map(Math.max(v, floor)); }
    this.clip(function (g) {
      g.beginPath();
      g.moveTo(self.x.map(edges[0]), lo ? yv(lo[0]) : yv(floor));
      for (var i = 0; i < hi.length; i++) {
        g.lineTo(self.x.map(edges[i]), yv(hi[i]));
        g.lineTo(self.x.map(edges[i + 1]), yv(hi[i]));
      }
      if (lo) {
        for (var j = lo.length - 1; j >= 0; j--) {
          g.lineTo(self.x.map(edges[j + 1]), yv(lo[j]));
          g.lineTo(self.x.map(edges[j]), yv(lo[j]));
        }
      } else {
        g.lineTo(self.x.map(edges[edges.length - 1]), yv(floor));
      }
      g.closePath();
      if (fill) { g.fillStyle = fill; g.fill(); }
      if (stroke) { g.strokeStyle = stroke; g.lineWidth = 1.2; g.stroke(); }
    });
  };
  Plot.prototype.curve = function (xs, ys, colour) {
    var self = this;
    this.clip(function (g) {
      g.beginPath(); g.strokeStyle = colour; g.lineWidth = 1.6;
      var pen = false;
      for (var i = 0; i < xs.length; i++) {
        var ok = isFinite(ys[i]) && (!self.y.log || ys[i] > 0);
        if (!ok) { pen = false; continue; }
        var px = self.x.map(xs[i]), py = self.y.map(ys[i]);
        if (pen) g.lineTo(px, py); else g.moveTo(px, py);
        pen = true;
      }
      g.stroke();
    });
  };
  Plot.prototype.vline = function (v, colour, dash, span) {
    var self = this, m = this.m;
    if (!isFinite(v)) return;
    this.clip(function (g) {
      if (span && isFinite(span[0]) && isFinite(span[1])) {
        g.fillStyle = colour; g.globalAlpha = 0.07;
        var a = self.x.map(span[0]), b = self.x.map(span[1]);
        g.fillRect(a, m[0], Math.max(b - a, 1), self.h - m[0] - m[2]);
        g.globalAlpha = 1;
      }
      g.strokeStyle = colour; g.lineWidth = 1.2; g.setLineDash(dash);
      g.beginPath(); g.moveTo(self.x.map(v), m[0]); g.lineTo(self.x.map(v), self.h - m[2]);
      g.stroke(); g.setLineDash([]);
    });
  };

  // ------------------------------------------------------------------ the ESD of one layer
  function edgesOf(h, log) {
    var n = h.c.length, out = [];
    for (var i = 0; i <= n; i++) {
      out.push(log ? h.lo * Math.pow(h.hi / h.lo, i / n) : h.lo + (h.hi - h.lo) * i / n);
    }
    return out;
  }
  function densities(h, edges, total) {
    return h.c.map(function (c, i) { return c / (total * (edges[i + 1] - edges[i])); });
  }
  function mpDensity(x, mp) {
    var s2 = mp[0], N = mp[1], Q = mp[2];
    var lo = N * s2 * Math.pow(1 - Math.pow(Q, -0.5), 2), hi = N * s2 * Math.pow(1 + Math.pow(Q, -0.5), 2);
    if (x <= lo || x >= hi) return 0;
    return Q * Math.sqrt((hi - x) * (x - lo)) / (2 * Math.PI * s2 * N * x);
  }
  function drawESD(canvas, rec, scale) {
    var h = rec[scale], log = scale === "log";
    var legend = document.getElementById("esd-legend");
    legend.textContent = "";
    canvas.dataset.scale = scale;
    canvas.dataset.layer = rec.id;
    if (!h) {
      var g = canvas.getContext("2d");
      g.clearRect(0, 0, canvas.width, canvas.height);
      g.fillText("no positive eigenvalues to draw on log axes", 20, 30);
      return;
    }
    var edges = edgesOf(h, log), dens = densities(h, edges, rec.n);
    var bands = (rec.band || []).map(function (b) { return b[scale]; });
    var ymax = Math.max.apply(null, dens), ymin = Infinity;
    dens.forEach(function (d) { if (d > 0 && d < ymin) ymin = d; });
    var ylo = log ? ymin / 3 : 0, yhi = log ? ymax * 3 : ymax * 1.15;
    var xhi = edges[edges.length - 1];
    [rec.lp, rec.xm].forEach(function (t) {  // room for lambda+ and xmin with their intervals
      if (t) t.forEach(function (v) { if (v !== null && isFinite(v) && v > xhi) xhi = v; });
    });
    xhi = xhi > edges[edges.length - 1] ? (log ? xhi * 1.15 : xhi + 0.04 * (xhi - edges[0])) : xhi;
    var plot = new Plot(canvas, [edges[0], xhi, log], [ylo, yhi, log], [12, 14, 42, 62]);
    var items = [["ESD (histogram of " + rec.n + " eigenvalues" + (log && rec.z ? ", " + rec.z + " ≤ 0 not shown" : "") + ")", "#263238", "fill"]];
    plot.steps(edges, null, dens, "#eceff1", null);
    bands.forEach(function (b, i) {
      plot.steps(edges, b[0], b[1], BAND_COLOURS[i % 3], null);
      items.push([Math.round(DATA.ci * 100) + "% predictive band: " + rec.band[i].lik, BAND_EDGES[i % 3], "fill"]);
    });
    plot.steps(edges, null, dens, null, "#263238");
    var grid = [], k;
    for (k = 0; k <= 400; k++) grid.push(plot.x.inverse(plot.m[3] + k / 400 * (plot.w - plot.m[1] - plot.m[3])));
    if (rec.mp) {
      plot.curve(grid, grid.map(function (x) { return mpDensity(x, rec.mp); }), "#1565c0");
      items.push(["MP fit (σ = " + fmt(Math.sqrt(rec.mp[0])) + ", " + rec.src + ")", "#1565c0", "line"]);
    }
    var pct = Math.round(DATA.ci * 100) + "% CI";
    if (rec.lp) {
      plot.vline(rec.lp[0], "#1565c0", [6, 4], rec.lp.slice(1));
      items.push(["λ+ = " + fmt(rec.lp[0]) + (rec.lp[1] !== null ? " [" + fmt(rec.lp[1]) + ", " + fmt(rec.lp[2]) + "] " + pct : ""), "#1565c0", "dash"]);
    }
    if (rec.a && rec.xm && rec.a[0] > 1 && rec.mass > 0) {
      var a = rec.a[0], xm = rec.xm[0];
      plot.curve(grid, grid.map(function (x) { return x >= xm ? rec.mass * (a - 1) / xm * Math.pow(x / xm, -a) : NaN; }), "#c62828");
      items.push(["power law α = " + fmt(a) + (rec.a[1] !== null ? " [" + fmt(rec.a[1]) + ", " + fmt(rec.a[2]) + "]" : ""), "#c62828", "line"]);
      plot.vline(xm, "#c62828", [2, 3], rec.xm.slice(1));
      items.push(["xmin = " + fmt(xm) + (rec.xm[1] !== null ? " [" + fmt(rec.xm[1]) + ", " + fmt(rec.xm[2]) + "] " + pct : ""), "#c62828", "dot"]);
    }
    plot.axes("eigenvalue λ (squared singular value of W)", "density per unit λ");
    items.forEach(function (it) {
      var span = document.createElement("span"), sw = document.createElement("i");
      sw.className = "swatch " + it[2]; sw.style.borderColor = it[1];
      if (it[2] === "fill") sw.style.background = it[1];
      span.appendChild(sw); span.appendChild(document.createTextNode(it[0]));
      legend.appendChild(span);
    });
    canvas.onmousemove = function (ev) {
      var r = canvas.getBoundingClientRect(), x = plot.x.inverse(ev.clientX - r.left);
      var i = edges.findIndex(function (e, j) { return j < dens.length && x >= e && x < edges[j + 1]; });
      document.getElementById("esd-readout").textContent = i < 0 ? "" :
        "λ in [" + fmt(edges[i]) + ", " + fmt(edges[i + 1]) + "): " + h.c[i] + " eigenvalues, density " + fmt(dens[i]);
    };
  }

  // ------------------------------------------------------------------ selection
  function select(id, scroll) {
    var rec = BY_ID[id];
    if (!rec) return;
    state.id = id;
    document.querySelectorAll("article.layer.selected, tr.selected").forEach(function (el) { el.classList.remove("selected"); });
    var art = document.getElementById("layer-" + id);
    if (art) art.classList.add("selected");
    var row = document.querySelector("tr[data-id='" + id + "']");
    if (row) row.classList.add("selected");
    document.getElementById("esd-title").textContent = id + ". " + rec.name;
    drawESD(document.getElementById("esd-canvas"), rec, state.scale);
    if (scroll) document.getElementById("esd-viewer").scrollIntoView({ block: "start" });
  }
  function setScale(scale) {
    state.scale = scale;
    document.querySelectorAll("[data-scale]").forEach(function (b) {
      if (b.tagName === "BUTTON") b.setAttribute("aria-pressed", String(b.dataset.scale === scale));
    });
    if (state.id !== null) select(state.id, false);
  }
  function step(delta) {
    var rows = visibleRows(), ids = rows.map(function (r) { return Number(r.dataset.id); });
    var at = ids.indexOf(state.id);
    if (ids.length) select(ids[(at + delta + ids.length) % ids.length], false);
  }

  // ------------------------------------------------------------------ the layer table
  var table = document.getElementById("layer-table");
  function allRows() { return Array.prototype.slice.call(table.tBodies[0].rows); }
  function visibleRows() { return allRows().filter(function (r) { return !r.hidden; }); }
  function sortBy(th) {
    var col = th.cellIndex, dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    var rows = allRows();
    function key(r) {
      var c = r.cells[col], v = c.dataset.v !== undefined ? c.dataset.v : c.textContent;
      var n = parseFloat(v);
      return v === "" ? null : isNaN(n) ? v.toLowerCase() : n;
    }
    rows.sort(function (a, b) {
      var ka = key(a), kb = key(b);
      if (ka === kb) return 0;
      if (ka === null) return 1;
      if (kb === null) return -1;
      return (ka < kb ? -1 : 1) * dir;
    });
    rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
  }
  function applyFilters() {
    var text = document.getElementById("f-name").value.toLowerCase();
    var phase = document.getElementById("f-phase").value;
    var lo = parseFloat(document.getElementById("f-alpha-lo").value);
    var hi = parseFloat(document.getElementById("f-alpha-hi").value);
    var shown = 0, rows = allRows();
    rows.forEach(function (r) {
      var a = parseFloat(r.dataset.alpha);
      var ok = (!text || r.dataset.name.toLowerCase().indexOf(text) >= 0) &&
        (!phase || r.dataset.phase === phase) &&
        (isNaN(lo) || a >= lo) && (isNaN(hi) || a <= hi);
      r.hidden = !ok;
      shown += ok;
    });
    document.getElementById("f-count").textContent = "showing " + shown + " of " + rows.length + " layers";
  }

  // ------------------------------------------------------------------ network charts
  function alphaChart(canvas) {
    var pts = DATA.layers.filter(function (r) { return r.pa || r.ca; });
    if (!pts.length) { canvas.hidden = true; return; }
    var ids = pts.map(function (r) { return r.id; });
    var vals = [2, 6];
    pts.forEach(function (r) { (r.pa || []).concat(r.ca || []).forEach(function (v) { if (v !== null && isFinite(v)) vals.push(v); }); });
    var top = Math.min(Math.max.apply(null, vals), 14);
    var plot = new Plot(canvas, [Math.min.apply(null, ids) - 1, Math.max.apply(null, ids) + 1, false], [Math.max(Math.min.apply(null, vals) - 0.3, 0), top + 0.5, false], [10, 12, 40, 50]);
    plot.clip(function (g) {
      g.fillStyle = "#e8f5e9";
      g.fillRect(plot.m[3], plot.y.map(6), plot.w - plot.m[1] - plot.m[3], plot.y.map(2) - plot.y.map(6));
      pts.forEach(function (r) {
        var x = plot.x.map(r.id), p = r.pa || r.ca;
        if (p[1] !== null && p[2] !== null) {
          g.strokeStyle = "#c62828"; g.beginPath(); g.moveTo(x, plot.y.map(p[1])); g.lineTo(x, plot.y.map(p[2])); g.stroke();
        }
        g.fillStyle = "#c62828"; g.beginPath(); g.arc(x, plot.y.map(p[0]), 3, 0, 2 * Math.PI); g.fill();
        if (r.pa && r.ca) { g.fillStyle = "#424242"; g.fillRect(x - 2, plot.y.map(r.ca[0]) - 2, 4, 4); }
      });
    });
    var xt = plot.x.ticks().filter(function (t) { return Math.round(t) === t; });
    plot.axes("layer id (click a point to see its ESD)", "α", xt);
    canvas.onclick = function (ev) {
      var r = canvas.getBoundingClientRect(), id = Math.round(plot.x.inverse(ev.clientX - r.left));
      if (BY_ID[id]) select(id, true);
    };
  }
  function phaseChart(canvas) {
    var rows = DATA.layers.filter(function (r) { return r.ph; });
    if (!rows.length) { canvas.hidden = true; return; }
    var ids = rows.map(function (r) { return r.id; });
    var plot = new Plot(canvas, [Math.min.apply(null, ids) - 0.5, Math.max.apply(null, ids) + 0.5, false], [0, 1, false], [10, 12, 40, 50]);
    var width = Math.max((plot.w - plot.m[1] - plot.m[3]) / (ids.length + 1) * 0.85, 1);
    plot.clip(function (g) {
      rows.forEach(function (r) {
        var base = 0, x = plot.x.map(r.id);
        r.ph.forEach(function (p, k) {
          g.fillStyle = PHASE_COLOURS[k];
          g.fillRect(x - width / 2, plot.y.map(base + p), width, plot.y.map(base) - plot.y.map(base + p));
          base += p;
        });
      });
    });
    plot.axes("layer id (click a bar to see its ESD)", "P(phase)", plot.x.ticks().filter(function (t) { return Math.round(t) === t; }));
    canvas.onclick = function (ev) {
      var r = canvas.getBoundingClientRect(), id = Math.round(plot.x.inverse(ev.clientX - r.left));
      if (BY_ID[id]) select(id, true);
    };
  }

  // ------------------------------------------------------------------ wiring
  table.querySelectorAll("th").forEach(function (th) {
    th.tabIndex = 0;
    th.addEventListener("click", function () { sortBy(th); });
  });
  table.tBodies[0].addEventListener("click", function (ev) {
    var row = ev.target.closest("tr");
    if (row && row.dataset.id && BY_ID[row.dataset.id]) { ev.preventDefault(); select(Number(row.dataset.id), true); }
  });
  ["f-name", "f-phase", "f-alpha-lo", "f-alpha-hi"].forEach(function (id) {
    document.getElementById(id).addEventListener("input", applyFilters);
  });
  document.querySelectorAll("button[data-scale]").forEach(function (b) {
    b.addEventListener("click", function () { setScale(b.dataset.scale); });
  });
  document.getElementById("esd-prev").addEventListener("click", function () { step(-1); });
  document.getElementById("esd-next").addEventListener("click", function () { step(1); });
  function fromHash() {
    var m = /^#layer-(\d+)$/.exec(location.hash);
    if (m && BY_ID[m[1]]) { select(Number(m[1]), true); return true; }
    return false;
  }
  window.addEventListener("hashchange", fromHash);
  var redraw = null;
  window.addEventListener("resize", function () {
    clearTimeout(redraw);
    redraw = setTimeout(function () {
      alphaChart(document.getElementById("alpha-chart"));
      phaseChart(document.getElementById("phase-chart"));
      if (state.id !== null) select(state.id, false);
    }, 150);
  });
  applyFilters();
  alphaChart(document.getElementById("alpha-chart"));
  phaseChart(document.getElementById("phase-chart"));
  if (!fromHash() && DATA.layers.length) select(DATA.layers[0].id, false);
  document.documentElement.dataset.ready = "1";
})();
