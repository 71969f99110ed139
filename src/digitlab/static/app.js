// digitlab page, two modes. "Digit": draw (pointer events cover mouse, touch and pen) or upload one
// digit; "Number / page": write a number on a wide pad or upload a photo of a number or a page, and
// see the lines and digits read drawn over the picture. Reading runs shortly after each stroke, so
// no button is needed.
"use strict";
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

// ---------------------------------------------------------------- drawing pads (both modes)

// A canvas to draw on with any pointer; `onStroke()` is called as a stroke starts, goes on and
// ends. The pen is about 1/15 of the pad's height: a digit written across the height gets MNIST's
// stroke width once scaled to 20 px.
function makePad(canvas, onStroke) {
  const ctx = canvas.getContext("2d");
  let drawing = false, lastPoint = null;
  const pad = { dirty: false };
  pad.clear = () => {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = canvas.height * 18 / 280;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    pad.dirty = false;
  };
  const point = (event) => {
    const r = canvas.getBoundingClientRect();
    return { x: (event.clientX - r.left) * canvas.width / r.width, y: (event.clientY - r.top) * canvas.height / r.height };
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true; canvas.setPointerCapture(e.pointerId); lastPoint = point(e);
    ctx.beginPath(); ctx.moveTo(lastPoint.x, lastPoint.y); ctx.lineTo(lastPoint.x + 0.1, lastPoint.y); ctx.stroke();
    pad.dirty = true; onStroke();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = point(e);
    ctx.beginPath(); ctx.moveTo(lastPoint.x, lastPoint.y); ctx.lineTo(p.x, p.y); ctx.stroke();
    lastPoint = p; onStroke();
  });
  for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
    canvas.addEventListener(type, () => { if (drawing) { drawing = false; onStroke(); } });
  }
  pad.clear();
  return pad;
}

// Calls `fn` once `ms` after the last call.
function debounce(fn, ms) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}

// POST a picture as multipart field `image`; resolves to {ok, body} or {ok: false, detail}.
async function post(url, blob, name) {
  const form = new FormData();
  form.append("image", blob, name);
  try {
    const response = await fetch(url, { method: "POST", body: form });
    let body = null;
    try { body = await response.json(); } catch (err) { body = null; }
    if (response.ok && body) return { ok: true, body };
    const detail = body && typeof body.detail === "string" ? body.detail : "the server refused the picture (HTTP " + response.status + ").";
    return { ok: false, detail };
  } catch (err) {
    return { ok: false, detail: "cannot reach the digitlab server." };
  }
}

const percent = (p) => (100 * p).toFixed(1) + "%";

// ---------------------------------------------------------------- mode 1: one digit

const bars = $("bars");
let requestId = 0;
const digitPad = makePad($("pad"), () => scheduleDigit());
const scheduleDigit = debounce(() => {
  if (digitPad.dirty) $("pad").toBlob((blob) => sendDigit(blob, "drawing.png"), "image/png");
}, 250);

$("clear").addEventListener("click", () => {
  digitPad.clear(); showEmpty("Draw with a mouse, finger or pen.");
});
$("file").addEventListener("change", (e) => {
  if (e.target.files.length) sendDigit(e.target.files[0], e.target.files[0].name);
  e.target.value = "";
});

async function sendDigit(blob, name) {
  const id = ++requestId;
  const answer = await post("/api/predict", blob, name);
  if (id !== requestId) return;  // drop answers to drawings that have since changed
  if (answer.ok) showResult(answer.body); else showEmpty(answer.detail);
}

function showEmpty(message) {
  $("digit").textContent = "–";
  $("confidence").textContent = "";
  $("answer").className = "";
  $("message").textContent = message;
  $("seen").removeAttribute("src");
  renderBars(null);
}

function showResult(r) {
  $("digit").textContent = r.label;
  $("confidence").textContent = percent(r.confidence);
  $("answer").className = r.uncertain ? "uncertain" : "";
  $("message").textContent = r.uncertain ? "Not sure: maybe " + r.label + ", or " + r.runner_up.digit + "." : "";
  $("seen").src = r.preprocessed;
  renderBars(r);
}

function renderBars(r) {
  bars.replaceChildren();
  for (let k = 0; k < classes.length; k++) {
    const p = r ? r.probabilities[k] : 0;
    const label = document.createElement("span"); label.textContent = classes[k];
    const bar = document.createElement("div"); bar.className = "bar" + (r && k === r.digit ? " best" : "");
    bar.dataset.cls = String(k);
    const fill = document.createElement("div"); fill.style.width = percent(p);
    bar.append(fill);
    const value = document.createElement("span"); value.textContent = r ? percent(p) : "";
    bars.append(label, bar, value);
  }
}

// ---------------------------------------------------------------- mode 2: a number or a page

const stage = $("stage"), widePadCanvas = $("wide-pad"), photo = $("photo"), overlay = $("overlay");
const readResult = $("read-result");
let readId = 0;
let reading = null;      // the last answer of /api/read, with `source`: "drawing" or "photo"
let photoUrl = null;     // object URL of the photo on the stage, if one is shown

const widePad = makePad(widePadCanvas, () => {
  readId++;              // answers for the drawing before this stroke are out of date
  overlay.classList.add("stale");
  readResult.dataset.state = "pending";
  scheduleRead();
});
const scheduleRead = debounce(() => {
  if (widePad.dirty) widePadCanvas.toBlob((blob) => sendRead(blob, "drawing.png", "drawing"), "image/png");
}, 250);

// Three digits' room side by side (840x280); on a phone, 2:1 (840x420) leaves a finger more room.
// The shape changes only while the pad is blank, since resizing a canvas wipes it.
const narrow = window.matchMedia("(max-width: 600px)");
function shapeWidePad() {
  const height = narrow.matches ? 420 : 280;
  if (widePad.dirty || widePadCanvas.height === height) return;
  widePadCanvas.height = height;
  widePad.clear();
}
narrow.addEventListener("change", shapeWidePad);
shapeWidePad();

function showDrawing() {
  stage.className = "stage drawing";
  photo.hidden = true;
  widePadCanvas.hidden = false;
  photo.removeAttribute("src");
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = null;
}

function showPhoto(file) {
  showDrawing();
  widePad.clear();
  photoUrl = URL.createObjectURL(file);
  stage.className = "stage photo";
  widePadCanvas.hidden = true;
  photo.hidden = false;
  photo.src = photoUrl;
}

// A picture the browser cannot show (not an image, or a format it lacks): back to the pad.
photo.addEventListener("error", () => { if (photo.getAttribute("src")) { showDrawing(); drawOverlay(); } });
photo.addEventListener("load", () => drawOverlay());

// A photo the browser cannot show (HEIC, an iPhone's) comes back from the server as a JPEG.
function showServersPicture(src) {
  showDrawing();  // lets go of the photo the browser could not show
  stage.className = "stage photo";
  widePadCanvas.hidden = true;
  photo.hidden = false;
  photo.src = src;
}

function readPhoto(file) {
  showPhoto(file);
  sendRead(file, file.name, "photo");
}

$("read-clear").addEventListener("click", () => {
  readId++;
  showDrawing();
  widePad.clear();
  shapeWidePad();
  showReadEmpty("Write with a mouse, finger or pen.", "idle");
});
$("read-file").addEventListener("change", (e) => {
  if (e.target.files.length) readPhoto(e.target.files[0]);
  e.target.value = "";
});

async function sendRead(blob, name, source) {
  const id = ++readId;
  readResult.dataset.state = "reading";
  const answer = await post("/api/read", blob, name);
  if (id !== readId) return;  // the picture changed while it was being read
  if (answer.ok && answer.body.picture) showServersPicture(answer.body.picture);
  if (answer.ok) showReading(Object.assign(answer.body, { source })); else showReadEmpty(answer.detail, "error");
}

function showReadEmpty(message, state) {
  reading = null;
  const row = document.createElement("div");
  row.className = "line empty";
  row.append(span("line-text", "–"));
  $("read-lines").replaceChildren(row);
  $("read-unsure").hidden = true;
  $("read-message").textContent = message;
  $("read-message").className = state === "error" ? "hint error" : "hint";
  $("read-seen").hidden = true;
  $("read-strips").replaceChildren();
  readResult.dataset.text = "";
  readResult.dataset.state = state;
  drawOverlay();
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

function showReading(r) {
  reading = r;
  const lines = r.lines && r.lines.length ? r.lines : r.text.split("\n").map((text) => ({ text, confidence: null, digits: [] }));
  const rows = lines.map((line) => {
    const row = document.createElement("div");
    const digits = line.digits || [];
    row.className = "line" + (digits.some((d) => d.uncertain) ? " uncertain" : "");
    const text = span("line-text", line.text || "–");
    if (digits.length && digits.map((d) => d.digit).join("") === line.text) {  // unsure digits in orange
      text.replaceChildren(...digits.map((d) => span(d.uncertain ? "uncertain" : "", String(d.digit))));
    }
    row.append(text);
    if (line.confidence != null) row.append(span("line-confidence", percent(line.confidence)));
    if (digits.length) {
      const each = document.createElement("div");
      each.className = "line-digits";
      each.append(...digits.map((d) => span(d.uncertain ? "uncertain" : "", `${d.digit} ${percent(d.confidence)}`)));
      row.append(each);
    }
    return row;
  });
  $("read-lines").replaceChildren(...rows);
  $("read-unsure").hidden = !r.uncertain;
  const count = r.digits.length;
  $("read-message").className = "hint";
  $("read-message").textContent = (count === 1 ? "1 digit" : count + " digits") +
    (lines.length > 1 ? " on " + lines.length + " lines" : "") +
    (r.uncertain ? ". Not sure about the digits marked in orange." : ".");
  const strips = (r.preprocessed || []).map((src, i) => {
    const img = document.createElement("img");
    img.src = src; img.alt = "line " + (i + 1) + " as the reader saw it";
    return img;
  });
  $("read-strips").replaceChildren(...strips);
  $("read-seen").hidden = strips.length === 0;
  readResult.dataset.text = r.text;
  readResult.dataset.state = "done";
  drawOverlay();
}

// The lines' quadrilaterals and the digits' boxes over the picture on the stage, in screen pixels
// (the server's boxes are in the picture's own pixels, so they are scaled by shown / natural size).
function drawOverlay() {
  overlay.replaceChildren();
  overlay.classList.remove("stale", "compact");
  overlay.dataset.digits = "0";
  overlay.dataset.lines = "0";
  overlay.dataset.shown = "false";  // whether the boxes of the reading on screen are drawn
  const onPhoto = stage.classList.contains("photo");
  const target = onPhoto ? photo : widePadCanvas;
  // The server's picture of a photo the browser cannot show is smaller than the photo its boxes measure.
  const size = onPhoto && reading && reading.picture_size ? reading.picture_size : null;
  const naturalWidth = size ? size[0] : onPhoto ? photo.naturalWidth : widePadCanvas.width;
  const naturalHeight = size ? size[1] : onPhoto ? photo.naturalHeight : widePadCanvas.height;
  const width = target.clientWidth, height = target.clientHeight;
  Object.assign(overlay.style, { left: target.offsetLeft + "px", top: target.offsetTop + "px",
                                 width: width + "px", height: height + "px" });
  overlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
  if (!reading || reading.source !== (onPhoto ? "photo" : "drawing") || !width || !naturalWidth) return;
  const sx = width / naturalWidth, sy = height / naturalHeight;
  for (const line of reading.lines || []) {
    const points = line.box.map(([x, y]) => `${(x * sx).toFixed(1)},${(y * sy).toFixed(1)}`).join(" ");
    overlay.append(svgElement("polygon", { points, class: "line-box" }));
  }
  const boxes = reading.digits.map((d) => [d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy]);
  const labels = reading.digits.map((d, i) => {
    const [x0, y0, x1, y1] = boxes[i];
    const group = svgElement("g", { class: "digit" + (d.uncertain ? " uncertain" : "") });
    const rect = svgElement("rect", { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0),
                                      class: "digit-box" });
    const title = svgElement("title", {});
    title.textContent = `${d.digit}: ${percent(d.confidence)}${d.uncertain ? " (not sure)" : ""}`;
    rect.append(title);
    const label = svgElement("text", { class: "digit-label" });
    group.append(rect, label);
    overlay.append(group);
    return label;
  });
  // Each label is the digit and its confidence; where digits are too small on screen for those to
  // fit without covering each other, just the digit ("?" marks an unsure one).
  const full = (d) => `${d.digit} ${Math.round(100 * d.confidence)}%`;
  const compact = (d) => `${d.digit}${d.uncertain ? "?" : ""}`;
  const heights = boxes.map((b) => b[3] - b[1]).sort((a, b) => a - b);
  const fontSize = (heights[heights.length >> 1] || 40) < 40 || width < 500 ? 11 : 13;
  if (!placeLabels(labels, boxes, reading.digits.map(full), fontSize, width, height)) {
    placeLabels(labels, boxes, reading.digits.map(compact), fontSize, width, height);
    overlay.classList.add("compact");
  }
  overlay.dataset.digits = String(reading.digits.length);
  overlay.dataset.lines = String((reading.lines || []).length);
  overlay.dataset.shown = "true";
}

// Puts each label above its box, or else below, or a row further out, wherever it covers no label
// placed before; returns whether every label found such a place.
function placeLabels(labels, boxes, texts, fontSize, width, height) {
  const placed = [];
  let allFree = true;
  labels.forEach((label, i) => {
    const [x0, y0, x1, y1] = boxes[i];
    label.textContent = texts[i];
    label.setAttribute("font-size", fontSize);
    const w = label.getComputedTextLength() + 6, h = fontSize + 4;
    const x = Math.min(Math.max(0, x0), Math.max(0, width - w));
    const free = (y) => y >= 0 && y + h <= height &&
      placed.every((p) => x >= p.x + p.w + 1 || p.x >= x + w + 1 || y >= p.y + p.h + 1 || p.y >= y + h + 1);
    let y = [y0 - h - 1, y1 + 1, y0 - 2 * h - 2, y1 + h + 2].find(free);
    if (y === undefined) { allFree = false; y = Math.max(0, Math.min(y0 - h - 1, height - h)); }
    label.parentNode.querySelector(".label-bg")?.remove();  // from a first try at full labels
    label.before(svgElement("rect", { x, y, width: w, height: h, rx: 3, class: "label-bg" }));
    label.setAttribute("x", (x + 3).toFixed(1));
    label.setAttribute("y", (y + fontSize).toFixed(1));
    placed.push({ x, y, w, h });
  });
  return allFree;
}

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, typeof v === "number" ? v.toFixed(1) : v);
  return element;
}

new ResizeObserver(() => drawOverlay()).observe(stage);

// ---------------------------------------------------------------- tabs, drop, model info

const tabs = [$("tab-digit"), $("tab-number")];
let mode = "digit";

function selectMode(name, focus) {
  mode = name;
  tabs.forEach((tab) => {
    const selected = (tab.id === "tab-number") === (name === "number");
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !selected;
    if (selected && focus) tab.focus();
  });
  document.title = "digitlab — " + (name === "number" ? "read a number" : "draw a digit");
  history.replaceState(null, "", name === "number" ? "#number" : location.pathname + location.search);
}

tabs.forEach((tab, i) => {
  tab.addEventListener("click", () => selectMode(i === 1 ? "number" : "digit", false));
  tab.addEventListener("keydown", (e) => {  // the tab pattern: arrows, Home and End move between tabs
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    const index = (next + tabs.length) % tabs.length;
    selectMode(index === 1 ? "number" : "digit", true);
  });
});

// "Upload a photo…" buttons open their (hidden) file input, so the keyboard reaches them too.
for (const button of document.querySelectorAll("[data-opens]")) {
  button.addEventListener("click", () => $(button.dataset.opens).click());
}

document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
document.addEventListener("drop", (e) => {
  e.preventDefault(); document.body.classList.remove("dragging");
  const file = e.dataTransfer.files[0];
  if (!file) return;
  if (mode === "number") readPhoto(file); else sendDigit(file, file.name);
});

let classes = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
fetch("/api/health").then((r) => r.json()).then((h) => {
  classes = h.classes || classes;
  const acc = h.test_accuracy != null ? ", test accuracy " + percent(h.test_accuracy) : "";
  $("model-info").textContent = h.arch + " model" + acc + " · digitlab " + h.version;
  renderBars(null);
}).catch(() => { $("model-info").textContent = "server not reachable"; });

renderBars(null);
if (location.hash === "#number") selectMode("number", false);
