// digitlab page: draw (pointer events cover mouse, touch and pen) or upload; recognition runs
// shortly after each stroke change, so no button is needed.
"use strict";
const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const bars = document.getElementById("bars");
let drawing = false, dirty = false, timer = null, lastPoint = null, requestId = 0;

function resetCanvas() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#000";
  // About 1/14 of the box: a digit drawn across the pad gets MNIST's stroke width once scaled to 20 px.
  ctx.lineWidth = 18;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  dirty = false;
}

function point(event) {
  const r = pad.getBoundingClientRect();
  return { x: (event.clientX - r.left) * pad.width / r.width, y: (event.clientY - r.top) * pad.height / r.height };
}

pad.addEventListener("pointerdown", (e) => {
  drawing = true; pad.setPointerCapture(e.pointerId); lastPoint = point(e);
  ctx.beginPath(); ctx.moveTo(lastPoint.x, lastPoint.y); ctx.lineTo(lastPoint.x + 0.1, lastPoint.y); ctx.stroke();
  dirty = true; schedule();
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const p = point(e);
  ctx.beginPath(); ctx.moveTo(lastPoint.x, lastPoint.y); ctx.lineTo(p.x, p.y); ctx.stroke();
  lastPoint = p; schedule();
});
for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
  pad.addEventListener(type, () => { if (drawing) { drawing = false; schedule(); } });
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(() => { if (dirty) pad.toBlob((blob) => send(blob, "drawing.png"), "image/png"); }, 250);
}

document.getElementById("clear").addEventListener("click", () => {
  resetCanvas(); showEmpty("Draw with a mouse, finger or pen.");
});
document.getElementById("file").addEventListener("change", (e) => {
  if (e.target.files.length) send(e.target.files[0], e.target.files[0].name);
});
document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
document.addEventListener("drop", (e) => {
  e.preventDefault(); document.body.classList.remove("dragging");
  if (e.dataTransfer.files.length) send(e.dataTransfer.files[0], e.dataTransfer.files[0].name);
});

async function send(blob, name) {
  const id = ++requestId;
  const form = new FormData();
  form.append("image", blob, name);
  let body;
  try {
    const response = await fetch("/api/predict", { method: "POST", body: form });
    body = await response.json();
    if (!response.ok) { if (id === requestId) showEmpty(body.detail || "the server refused the image"); return; }
  } catch (err) {
    if (id === requestId) showEmpty("cannot reach the digitlab server");
    return;
  }
  if (id === requestId) showResult(body);  // drop answers to drawings that have since changed
}

function showEmpty(message) {
  document.getElementById("digit").textContent = "–";
  document.getElementById("confidence").textContent = "";
  document.getElementById("answer").className = "";
  document.getElementById("message").textContent = message;
  document.getElementById("seen").removeAttribute("src");
  renderBars(null);
}

function showResult(r) {
  document.getElementById("digit").textContent = r.label;
  document.getElementById("confidence").textContent = (100 * r.confidence).toFixed(1) + "%";
  document.getElementById("answer").className = r.uncertain ? "uncertain" : "";
  document.getElementById("message").textContent = r.uncertain
    ? "Not sure: maybe " + r.label + ", or " + r.runner_up.digit + "." : "";
  document.getElementById("seen").src = r.preprocessed;
  renderBars(r);
}

function renderBars(r) {
  bars.replaceChildren();
  for (let k = 0; k < classes.length; k++) {
    const p = r ? r.probabilities[k] : 0;
    const label = document.createElement("span"); label.textContent = classes[k];
    const bar = document.createElement("div"); bar.className = "bar" + (r && k === r.digit ? " best" : "");
    bar.dataset.cls = String(k);
    const fill = document.createElement("div"); fill.style.width = (100 * p).toFixed(1) + "%";
    bar.append(fill);
    const value = document.createElement("span"); value.textContent = r ? (100 * p).toFixed(1) + "%" : "";
    bars.append(label, bar, value);
  }
}

let classes = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
fetch("/api/health").then((r) => r.json()).then((h) => {
  classes = h.classes || classes;
  const acc = h.test_accuracy != null ? ", test accuracy " + (100 * h.test_accuracy).toFixed(1) + "%" : "";
  document.getElementById("model-info").textContent = h.arch + " model" + acc + " · digitlab " + h.version;
  renderBars(null);
}).catch(() => { document.getElementById("model-info").textContent = "server not reachable"; });

resetCanvas();
renderBars(null);
