// backprop report: steps through the trace embedded in #trace-data. No request is made.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("trace-data").textContent);
  var stepSel = document.getElementById("step");
  var panel = document.getElementById("edge");
  var tables = document.getElementById("tables");
  var heading = document.getElementById("heading");
  var pos = document.getElementById("pos");
  var modeBtn = document.getElementById("mode");
  var tip = document.getElementById("tip");
  var graph = document.getElementById("graph");
  var state = { step: 0, at: 0, mode: "backward" };

  function all(selector) { return graph.querySelectorAll(selector); }
  function q(value) { return '"' + String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"'; }
  function mark(selector) {
    all(selector).forEach(function (el) { el.classList.add("hl"); });
  }
  function highlightNode(name) {
    mark("[data-node=" + q(name) + "]");
    mark("[data-op=" + q(name) + "]");
    mark("[data-from=" + q("op:" + name) + "][data-to=" + q(name) + "]");
  }
  function fill(text, i, n) { return text.replace("{i}", i).replace("{n}", n); }
  function length() {
    return state.mode === "backward" ? D.steps[state.step].back.length : D.steps[state.step].fwd.length;
  }

  function show() {
    var s = D.steps[state.step];
    all(".hl").forEach(function (el) { el.classList.remove("hl"); });
    heading.innerHTML = s.heading;
    tables.innerHTML = s.tables;
    if (state.mode === "backward") {
      panel.innerHTML = s.back[state.at];
      if (state.at === 0) {
        highlightNode(D.objective);
        pos.textContent = fill(D.text.edge_of, 0, D.edges.length);
      } else {
        var e = D.edges[state.at - 1];
        mark("[data-node=" + q(e.node) + "]");
        mark("[data-op=" + q(e.node) + "]");
        mark("[data-node=" + q(e.input) + "]");
        mark("[data-from=" + q("op:" + e.node) + "][data-to=" + q(e.node) + "]");
        mark("[data-from=" + q(e.input) + "][data-to=" + q("op:" + e.node) + "]");
        pos.textContent = fill(D.text.edge_of, state.at, D.edges.length);
      }
    } else {
      panel.innerHTML = s.fwd[state.at];
      highlightNode(D.nodes[state.at]);
      pos.textContent = fill(D.text.node_of, state.at + 1, D.nodes.length);
    }
    modeBtn.textContent = modeBtn.dataset[state.mode === "backward" ? "forward" : "backward"];
    modeBtn.setAttribute("aria-pressed", state.mode === "forward" ? "true" : "false");
  }
  function move(by) {
    var next = state.at + by;
    if (next >= 0 && next < length()) { state.at = next; show(); }
  }

  stepSel.addEventListener("change", function () {
    state.step = stepSel.selectedIndex;
    show();
  });
  document.getElementById("prev").addEventListener("click", function () { move(-1); });
  document.getElementById("next").addEventListener("click", function () { move(1); });
  modeBtn.addEventListener("click", function () {
    state.mode = state.mode === "backward" ? "forward" : "backward";
    state.at = 0;
    show();
  });
  document.getElementById("large").addEventListener("change", function (ev) {
    document.body.classList.toggle("large", ev.target.checked);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
    if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
      ev.preventDefault();
      move(ev.key === "ArrowRight" ? 1 : -1);
    }
  }, true);

  graph.querySelectorAll("[data-node]").forEach(function (el) {
    el.addEventListener("mouseenter", function () {
      tip.innerHTML = D.steps[state.step].hover[el.dataset.node] || "";
      tip.hidden = false;
    });
    el.addEventListener("mousemove", function (ev) {
      var x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
      tip.style.left = Math.max(x, 4) + "px";
      tip.style.top = ev.clientY + 14 + "px";
    });
    el.addEventListener("mouseleave", function () { tip.hidden = true; });
  });

  show();
})();
