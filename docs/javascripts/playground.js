// The playground (docs/playground.md): the guide's published CVAE, run in the reader's browser
// in plain JavaScript, with no library and no request beyond this site.
//
// The model's weights are two files written by `python -m flaxguide figures`
// (src/flaxguide/figures/playground.py): weights.json, the header, which says where each array
// starts in weights.bin, its shape, the dtype, the file's sha256, the latent directions the
// sliders move along and the run the weights come from; and weights.bin, every array one after
// another as float16 (the high bytes of all the values, then the low bytes, gzipped). A
// kernel is stored as Flax stores it, (in_features, out_features): a layer computes
// y = x @ kernel + bias. The file is checked against its sha256 before anything is drawn.
//
// The forward pass follows src/flaxguide/model/linen.py's VAE:
//   encoder:  h = relu(Dense_0([x, one_hot(c)])), h = relu(Dense_1(h)),
//             [mean, logvar] = to_latent(h)                       (no activation)
//   decoder:  d = relu(Dense_0([z, one_hot(c)])), d = relu(Dense_1(d)),
//             logits = Dense_2(d)                                 (no activation)
// and the picture is sigmoid(logits): the probability of ink at each pixel.
//
// For tests and the curious, `window.flaxguidePlayground` is
//   ready                a Promise: resolves (with nothing) once the weights are verified and
//                        loaded and the first picture drawn; rejects if they cannot be
//   encode(x, label)     {mean, logvar}: q(z | x, c) of 784 pixels in [0, 1] (1 = ink)
//   decodeLogits(z, label)  the decoder's 784 logits for a latent of 32 numbers
//   restyle(x, label)    10 arrays of 784 probabilities: x's latent mean decoded as each class
//   drawnInput()         the 784 values the encoder last read from the drawing, or null
//   setDrawnLabel(c)     says what the drawing is ("This is a"), and restyles it
//   header               weights.json, once loaded (null until then)
// The functions throw until `ready` resolves.
(() => {
  "use strict";

  const SCRIPT_URL = document.currentScript ? document.currentScript.src : location.href;
  const HEADER_URL = new URL("../figures/playground/weights.json", SCRIPT_URL);
  const CHECKSUM_MESSAGE =
    "The weights file does not match its checksum (sha256): refusing to draw with it.";
  const SLIDER_LIMIT = 3; // the sliders' range, in spreads along each direction
  const PAD_LINE = 24; // the pen's width on the drawing canvas (280 px a side)
  const MNIST_BOX = 20; // MNIST fits each digit in 20 x 20 pixels, centred in 28 x 28

  // ---- Numbers: float16, sha256 ----

  // Every float16 bit pattern's value, once: decoding the file is then one lookup a number.
  let halfTable = null;
  function halfToFloat(bits) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) return sign * fraction * 2 ** -24; // zero and the subnormals
    if (exponent === 31) return fraction ? NaN : sign * Infinity;
    return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }

  // The file (see src/flaxguide/figures/playground.py): gzip of the float16 values' high
  // bytes, then their low bytes. The browser decompresses it (DecompressionStream).
  async function decodeFloats(buffer, dtype) {
    if (dtype !== "float16") {
      throw new Error(`the weights are stored as ${dtype}, which this page cannot read`);
    }
    const stream = new Blob([buffer]).stream().pipeThrough(new DecompressionStream("gzip"));
    const planes = new Uint8Array(await new Response(stream).arrayBuffer());
    if (!halfTable) {
      halfTable = new Float32Array(65536);
      for (let bits = 0; bits < 65536; bits++) halfTable[bits] = halfToFloat(bits);
    }
    const count = planes.length >> 1;
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = halfTable[(planes[i] << 8) | planes[count + i]];
    return out;
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // SHA-256 in plain JavaScript, for the one case the browser does not offer it: a page served
  // over plain http from another address than this machine's (crypto.subtle needs a secure
  // context: https, or localhost).
  function sha256Plain(buffer) {
    const primes = [];
    for (let n = 2; primes.length < 64; n++) if (primes.every((p) => n % p)) primes.push(n);
    const frac = (x) => ((x - Math.floor(x)) * 2 ** 32) >>> 0;
    const K = Uint32Array.from(primes, (p) => frac(Math.cbrt(p)));
    const H = Uint32Array.from(primes.slice(0, 8), (p) => frac(Math.sqrt(p)));
    const length = buffer.byteLength;
    const total = Math.ceil((length + 9) / 64) * 64;
    const padded = new Uint8Array(total);
    padded.set(new Uint8Array(buffer));
    padded[length] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(total - 8, Math.floor(length / 2 ** 29));
    view.setUint32(total - 4, (length * 8) >>> 0);
    const W = new Uint32Array(64);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let block = 0; block < total; block += 64) {
      for (let t = 0; t < 16; t++) W[t] = view.getUint32(block + 4 * t);
      for (let t = 16; t < 64; t++) {
        const s0 = rotr(W[t - 15], 7) ^ rotr(W[t - 15], 18) ^ (W[t - 15] >>> 3);
        const s1 = rotr(W[t - 2], 17) ^ rotr(W[t - 2], 19) ^ (W[t - 2] >>> 10);
        W[t] = W[t - 16] + s0 + W[t - 7] + s1;
      }
      let [a, b, c, d, e, f, g, h] = H;
      for (let t = 0; t < 64; t++) {
        const t1 =
          (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = b;
        b = a;
        a = (t1 + t2) | 0;
      }
      H[0] += a;
      H[1] += b;
      H[2] += c;
      H[3] += d;
      H[4] += e;
      H[5] += f;
      H[6] += g;
      H[7] += h;
    }
    const out = new DataView(new ArrayBuffer(32));
    H.forEach((word, i) => out.setUint32(4 * i, word));
    return hex(new Uint8Array(out.buffer));
  }

  async function sha256(buffer) {
    if (globalThis.crypto && crypto.subtle) {
      return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", buffer)));
    }
    return sha256Plain(buffer);
  }

  // ---- The model ----

  function buildModel(header, floats) {
    const arrays = new Map(header.arrays.map((a) => [a.name, a]));
    const array = (name, rank) => {
      const entry = arrays.get(name);
      if (!entry || entry.shape.length !== rank) throw new Error(`weights.json: no ${name}`);
      const size = entry.shape.reduce((n, d) => n * d, 1);
      if (entry.offset + size > floats.length) throw new Error(`weights.bin ends inside ${name}`);
      return { shape: entry.shape, values: floats.subarray(entry.offset, entry.offset + size) };
    };
    const layer = (name) => {
      const kernel = array(`${name}/kernel`, 2);
      const bias = array(`${name}/bias`, 1);
      const [nIn, nOut] = kernel.shape;
      if (bias.shape[0] !== nOut) throw new Error(`weights.json: ${name}'s bias does not fit`);
      return { name, nIn, nOut, kernel: kernel.values, bias: bias.values };
    };
    const layers = header.layers.map(layer);
    const encoder = layers.filter((l) => l.name.startsWith("encoder/"));
    const decoder = layers.filter((l) => l.name.startsWith("decoder/"));
    const toLatent = layers.find((l) => l.name === "to_latent");
    const classes = header.num_classes;
    const latent = header.latent_dim;
    const pixels = header.image_size ** 2;
    if (
      !encoder.length ||
      !decoder.length ||
      !toLatent ||
      encoder[0].nIn !== pixels + classes ||
      decoder[0].nIn !== latent + classes ||
      toLatent.nOut !== 2 * latent ||
      decoder[decoder.length - 1].nOut !== pixels
    ) {
      throw new Error("weights.json describes a model this page does not know");
    }
    return { encoder, decoder, toLatent, classes, latent, pixels };
  }

  // y = x @ kernel + bias, the kernel (nIn, nOut) row-major; rows of zero inputs are skipped
  // (after a ReLU, and in a one-hot class, most inputs are zero).
  function dense(layer, x, relu) {
    const { kernel, bias, nIn, nOut } = layer;
    const y = new Float32Array(nOut);
    y.set(bias);
    for (let i = 0; i < nIn; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      const row = i * nOut;
      for (let j = 0; j < nOut; j++) y[j] += xi * kernel[row + j];
    }
    if (relu) for (let j = 0; j < nOut; j++) if (y[j] < 0) y[j] = 0;
    return y;
  }

  function withClass(model, values, size, label) {
    if (!Number.isInteger(label) || label < 0 || label >= model.classes) {
      throw new RangeError(`the class must be an integer from 0 to ${model.classes - 1}`);
    }
    const flat = Array.isArray(values) ? values.flat(Infinity) : values;
    if (flat.length !== size) throw new RangeError(`expected ${size} numbers, got ${flat.length}`);
    const input = new Float32Array(size + model.classes);
    input.set(flat);
    input[size + label] = 1; // one_hot(c), after the values
    return input;
  }

  function encodeRaw(model, x, label) {
    let h = withClass(model, x, model.pixels, label);
    for (const layer of model.encoder) h = dense(layer, h, true);
    const t = dense(model.toLatent, h, false);
    return { mean: t.subarray(0, model.latent), logvar: t.subarray(model.latent) };
  }

  function decodeRaw(model, z, label) {
    let d = withClass(model, z, model.latent, label);
    model.decoder.forEach((layer, k) => {
      d = dense(layer, d, k < model.decoder.length - 1);
    });
    return d; // logits
  }

  function sigmoid(logits) {
    return logits.map((v) => 1 / (1 + Math.exp(-v)));
  }

  // Encode x with its class, take the latent mean (no sampling), decode it as every class.
  function restyleRaw(model, x, label) {
    const { mean } = encodeRaw(model, x, label);
    return Array.from({ length: model.classes }, (_, c) => sigmoid(decodeRaw(model, mean, c)));
  }

  // ---- The drawing, read like MNIST ----

  // The area-average weights of resampling `from` cells onto `to` cells: for each source cell,
  // the target cells it overlaps and by how much (in target cells).
  function overlaps(from, to) {
    const scale = to / from;
    const weights = [];
    for (let s = 0; s < from; s++) {
      const start = s * scale;
      const end = (s + 1) * scale;
      const targets = [];
      for (let t = Math.floor(start); t < Math.min(to, Math.ceil(end)); t++) {
        targets.push([t, Math.min(t + 1, end) - Math.max(t, start)]);
      }
      weights.push(targets);
    }
    return weights;
  }

  // The drawing canvas as MNIST's 28 x 28: the ink's bounding box, scaled to fit 20 x 20
  // keeping its aspect (an area average: a box filter, separable), placed in 28 x 28 so that
  // its centre of mass falls on the image's centre (to the nearest pixel), intensities in [0, 1].
  // Null if there is no ink.
  function readDrawing(canvas, size) {
    const { width, height } = canvas;
    const rgba = context2d(canvas).getImageData(0, 0, width, height).data;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (rgba[4 * (y * width + x) + 3] > 0) {
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
          y0 = Math.min(y0, y);
          y1 = Math.max(y1, y);
        }
      }
    }
    if (x1 < 0) return null;
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    const fit = MNIST_BOX / Math.max(w, h);
    const bw = Math.max(1, Math.round(w * fit));
    const bh = Math.max(1, Math.round(h * fit));
    // Rows first: (h, bw), then columns: (bh, bw).
    const across = overlaps(w, bw);
    const down = overlaps(h, bh);
    const rows = new Float32Array(h * bw);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const ink = rgba[4 * ((y0 + y) * width + x0 + x) + 3] / 255;
        if (ink === 0) continue;
        for (const [t, weight] of across[x]) rows[y * bw + t] += ink * weight;
      }
    }
    const box = new Float32Array(bh * bw);
    for (let y = 0; y < h; y++) {
      for (const [t, weight] of down[y]) {
        for (let x = 0; x < bw; x++) box[t * bw + x] += rows[y * bw + x] * weight;
      }
    }
    let mass = 0;
    let cx = 0;
    let cy = 0;
    for (let y = 0; y < bh; y++) {
      for (let x = 0; x < bw; x++) {
        const v = Math.min(1, box[y * bw + x]);
        box[y * bw + x] = v;
        mass += v;
        cx += v * x;
        cy += v * y;
      }
    }
    // Pixel centres at whole numbers: the image's centre is (size - 1) / 2.
    const centre = (size - 1) / 2;
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    const left = clamp(Math.round(centre - cx / mass), 0, size - bw);
    const top = clamp(Math.round(centre - cy / mass), 0, size - bh);
    const image = new Float32Array(size * size);
    for (let y = 0; y < bh; y++) {
      for (let x = 0; x < bw; x++) image[(top + y) * size + left + x] = box[y * bw + x];
    }
    return image;
  }

  // Simple strokes of each digit in a unit square, for "Draw an example": a reader without a
  // mouse, pen or touch screen gets a drawing to restyle too.
  function arc(cx, cy, rx, ry, from, to, steps = 16) {
    return Array.from({ length: steps + 1 }, (_, k) => {
      const a = ((from + ((to - from) * k) / steps) * Math.PI) / 180;
      return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
    });
  }
  const EXAMPLES = [
    [arc(0.5, 0.5, 0.27, 0.4, -90, 275, 28)],
    [[[0.36, 0.24], [0.52, 0.1], [0.52, 0.9]]],
    [[...arc(0.5, 0.32, 0.25, 0.22, 200, 390), [0.22, 0.9], [0.8, 0.9]]],
    [[...arc(0.48, 0.29, 0.24, 0.19, 210, 450), ...arc(0.48, 0.69, 0.27, 0.21, -90, 150)]],
    [[[0.58, 0.1], [0.2, 0.64], [0.82, 0.64]], [[0.62, 0.36], [0.62, 0.92]]],
    [[[0.76, 0.1], [0.32, 0.1], [0.28, 0.45], ...arc(0.5, 0.64, 0.27, 0.24, -130, 150)]],
    [[[0.7, 0.08], [0.45, 0.3], ...arc(0.5, 0.67, 0.24, 0.23, 190, 555)]],
    [[[0.2, 0.12], [0.8, 0.12], [0.42, 0.9]]],
    [[...arc(0.5, 0.29, 0.2, 0.19, 90, 450), ...arc(0.5, 0.7, 0.25, 0.21, -90, 270)]],
    [[...arc(0.48, 0.32, 0.23, 0.21, 0, 365), [0.71, 0.33], [0.64, 0.92]]],
  ];

  // ---- The page ----

  const $ = (id) => document.getElementById(id);

  // Every canvas's 2D context, made to be read back (getImageData) often: the drawing is read
  // after each stroke, and tests read the pictures; without the hint Chrome warns in the console.
  function context2d(canvas) {
    return canvas.getContext("2d", { willReadFrequently: true });
  }

  // Pictures of probabilities: ink (1) dark on a light ground, whatever the scheme.
  function paint(canvas, probabilities, size) {
    const context = context2d(canvas);
    const image = context.createImageData(size, size);
    for (let i = 0; i < size * size; i++) {
      const v = Math.round(255 * (1 - probabilities[i]));
      image.data[4 * i] = v;
      image.data[4 * i + 1] = v;
      image.data[4 * i + 2] = v;
      image.data[4 * i + 3] = 255;
    }
    context.putImageData(image, 0, 0);
  }

  function blank(canvas) {
    context2d(canvas).clearRect(0, 0, canvas.width, canvas.height);
  }

  function megabytes(bytes) {
    return `${(bytes / 1e6).toFixed(1)} MB`;
  }

  // "The weights come from run final (preset full), epoch 400, commit cbc75e2, 2026-12-06,
  // trained on CPU, jax 0.12.0.1, flax 0.12.12, ...: 2.2 MB to download, 1,099,600 parameters,
  // float16.", with only the fields the header has.
  function describeRun(header) {
    const run = header.run || {};
    const parts = [];
    if (run.run) parts.push(`run ${run.run}${run.preset ? ` (preset ${run.preset})` : ""}`);
    else if (run.preset) parts.push(`preset ${run.preset}`);
    if (run.epoch !== undefined) parts.push(`epoch ${run.epoch}`);
    if (run.commit) parts.push(`commit ${String(run.commit).slice(0, 7)}`);
    if (run.date) parts.push(String(run.date).slice(0, 10));
    const device = run.device && typeof run.device === "object" ? run.device.kind : run.device;
    if (device) {
      parts.push(`trained on ${/^[cgt]pu$/i.test(device) ? device.toUpperCase() : device}`);
    }
    let versions = run.versions;
    if (versions && typeof versions === "object" && !Array.isArray(versions)) {
      versions = Object.entries(versions).map(([name, version]) => `${name} ${version}`);
    }
    if (Array.isArray(versions) && versions.length) parts.push(versions.join(", "));
    else if (typeof versions === "string" && versions) parts.push(versions);
    const source = parts.length ? `The weights come from ${parts.join(", ")}: ` : "The weights: ";
    const size = header.bytes ? megabytes(header.bytes) : "";
    const params = header.parameters ? `${header.parameters.toLocaleString("en")} parameters` : "";
    const what = [size && `${size} to download`, params, header.dtype].filter(Boolean).join(", ");
    return `${source}${what}.`;
  }

  // "a 3", "an 8".
  const aDigit = (c) => `${c === 8 ? "an" : "a"} ${c}`;

  function dotted(a, b) {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  }

  function normal() {
    // Box-Muller; 1 - random() is in (0, 1], so the log is finite.
    const u = 1 - Math.random();
    const v = Math.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  let model = null;
  let header = null;
  let lastInput = null;
  let drawnClassSetter = null;

  function requireModel() {
    if (!model) throw new Error("the playground's weights are not loaded (await ready)");
    return model;
  }

  let settle;
  let fail;
  const ready = new Promise((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  ready.catch(() => {}); // the page says what went wrong; a test awaiting `ready` still sees it

  const api = {
    ready,
    get header() {
      return header;
    },
    encode(x, label) {
      const { mean, logvar } = encodeRaw(requireModel(), x, label);
      return { mean: Array.from(mean), logvar: Array.from(logvar) };
    },
    decodeLogits(z, label) {
      return Array.from(decodeRaw(requireModel(), z, label));
    },
    restyle(x, label) {
      return restyleRaw(requireModel(), x, label).map((p) => Array.from(p));
    },
    drawnInput() {
      return lastInput ? Array.from(lastInput) : null;
    },
    // The class the reader says the drawing is ("This is a"): restyles the drawing with it.
    setDrawnLabel(c) {
      if (!Number.isInteger(c) || c < 0 || c > 9) throw new RangeError("a digit from 0 to 9");
      if (!drawnClassSetter) throw new Error("this page has no drawing");
      drawnClassSetter(c);
    },
  };
  window.flaxguidePlayground = api;

  if (!$("playground-status")) {
    fail(new Error("this page has no playground")); // nothing to draw into: nothing to load
    return;
  }

  const status = $("playground-status");
  const alertBox = $("playground-alert");
  const output = $("playground-output");
  const pad = $("playground-draw");
  const seen = $("playground-input");
  const drawnClass = $("playground-drawn-class");
  const sliders = [...document.querySelectorAll(".playground input.playground-direction")];
  const controls = [
    ...document.querySelectorAll(".playground input, .playground button, .playground select"),
  ];
  const cells = [];
  context2d(output);
  context2d(seen);

  function showError(message) {
    status.textContent = "The playground cannot draw.";
    alertBox.textContent = message;
    alertBox.hidden = false;
  }

  // The restyled digits: one small canvas per class, filled after each stroke.
  const grid = $("playground-restyled");
  for (let c = 0; c < 10; c++) {
    const cell = document.createElement("div");
    cell.className = "playground-cell";
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 28;
    canvas.className = "playground-canvas";
    canvas.setAttribute("role", "img");
    const caption = document.createElement("span");
    caption.textContent = String(c);
    caption.setAttribute("aria-hidden", "true");
    context2d(canvas);
    cell.append(canvas, caption);
    grid.append(cell);
    cells.push(canvas);
  }
  function labelCells() {
    cells.forEach((canvas, c) => {
      const shown = lastInput
        ? `Your handwriting drawn as ${aDigit(c)}`
        : `Empty: draw a digit to see it as ${aDigit(c)}`;
      canvas.setAttribute("aria-label", shown);
    });
  }
  labelCells();

  // -- The decoder: a class and a latent --

  const digits = [...document.querySelectorAll(".playground-digit")];
  let label = Number(document.querySelector(".playground-digit[aria-pressed=true]").dataset.class);
  let base = null; // z with every slider at 0
  let z = null;
  let directions = [];
  let spreads = [];

  function sliderValue(k) {
    return Number(sliders[k].value);
  }

  function setSlider(k, value) {
    sliders[k].value = value;
    const shown = Number(sliders[k].value); // snapped to the step and range
    const text = `${shown >= 0 ? "+" : "\u2212"}${Math.abs(shown).toFixed(1)}`;
    $(`${sliders[k].id}-value`).textContent = text;
    sliders[k].setAttribute("aria-valuetext", `${text} spreads`);
  }

  function latentFromSliders() {
    z = Float32Array.from(base);
    directions.forEach((direction, k) => {
      const step = sliderValue(k) * spreads[k];
      for (let i = 0; i < z.length; i++) z[i] += step * direction[i];
    });
  }

  function drawSample() {
    paint(output, sigmoid(decodeRaw(model, z, label)), 28);
    output.setAttribute("aria-label", `The decoder's drawing of ${aDigit(label)}`);
  }

  function choose(button) {
    for (const other of digits) other.setAttribute("aria-pressed", String(other === button));
    label = Number(button.dataset.class);
    if (model) drawSample();
  }
  digits.forEach((button, k) => {
    button.addEventListener("click", () => choose(button));
    // The arrow keys, Home and End move to another digit and press it.
    button.addEventListener("keydown", (event) => {
      const to = {
        ArrowRight: k + 1,
        ArrowDown: k + 1,
        ArrowLeft: k - 1,
        ArrowUp: k - 1,
        Home: 0,
        End: digits.length - 1,
      }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      const next = digits[(to + digits.length) % digits.length];
      next.focus();
      choose(next);
    });
  });
  sliders.forEach((slider, k) => {
    slider.addEventListener("input", () => {
      setSlider(k, slider.value);
      if (!model) return;
      latentFromSliders();
      drawSample();
    });
  });

  // A fresh z from the prior N(0, I); the sliders show its coordinates along the directions
  // (clamped to their range), and moving them from there keeps the rest of this z.
  $("playground-sample").addEventListener("click", () => {
    const fresh = Float32Array.from({ length: model.latent }, normal);
    const offset = fresh.map((v, i) => v - header.latent.centre[i]);
    directions.forEach((direction, k) => {
      const along = dotted(offset, direction) / spreads[k];
      setSlider(k, Math.max(-SLIDER_LIMIT, Math.min(SLIDER_LIMIT, along)));
    });
    base = Float32Array.from(fresh);
    directions.forEach((direction, k) => {
      const step = sliderValue(k) * spreads[k];
      for (let i = 0; i < base.length; i++) base[i] -= step * direction[i];
    });
    z = fresh;
    drawSample();
  });

  $("playground-centre").addEventListener("click", () => {
    base = Float32Array.from(header.latent.centre);
    sliders.forEach((_, k) => setSlider(k, 0));
    latentFromSliders();
    drawSample();
  });

  // -- The drawing: strokes, then the encoder and the decoder --

  const ink = context2d(pad);
  ink.lineCap = "round";
  ink.lineJoin = "round";
  ink.strokeStyle = "#000";
  ink.fillStyle = "#000";
  ink.lineWidth = PAD_LINE;
  let stroke = null;

  function padPoint(event) {
    const box = pad.getBoundingClientRect();
    return [
      ((event.clientX - box.left - pad.clientLeft) * pad.width) / pad.clientWidth,
      ((event.clientY - box.top - pad.clientTop) * pad.height) / pad.clientHeight,
    ];
  }

  function dot([x, y]) {
    ink.beginPath();
    ink.arc(x, y, PAD_LINE / 2, 0, 2 * Math.PI);
    ink.fill();
  }

  function line(from, to) {
    ink.beginPath();
    ink.moveTo(...from);
    ink.lineTo(...to);
    ink.stroke();
  }

  function restyleDrawing() {
    if (!lastInput || !model) return;
    const drawn = Number(drawnClass.value);
    restyleRaw(model, lastInput, drawn).forEach((p, c) => paint(cells[c], p, 28));
    labelCells();
    pad.setAttribute("aria-label", `Your drawing of ${aDigit(drawn)}`);
  }

  function strokeEnded() {
    lastInput = readDrawing(pad, 28);
    if (!lastInput) return;
    paint(seen, lastInput, 28);
    seen.setAttribute("aria-label", "Your drawing as the encoder reads it: 28 by 28 pixels");
    restyleDrawing();
  }

  pad.addEventListener("pointerdown", (event) => {
    if (stroke || alertBox.textContent || (event.pointerType === "mouse" && event.button !== 0)) {
      return;
    }
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    stroke = { id: event.pointerId, last: padPoint(event) };
    dot(stroke.last);
  });
  pad.addEventListener("pointermove", (event) => {
    if (!stroke || event.pointerId !== stroke.id) return;
    const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const move of moves.length ? moves : [event]) {
      const point = padPoint(move);
      line(stroke.last, point);
      stroke.last = point;
    }
  });
  const endStroke = (event) => {
    if (!stroke || event.pointerId !== stroke.id) return;
    stroke = null;
    strokeEnded();
  };
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  function clearDrawing() {
    ink.clearRect(0, 0, pad.width, pad.height);
    lastInput = null;
    blank(seen);
    seen.setAttribute("aria-label", "Empty: your drawing as the encoder reads it will show here");
    cells.forEach(blank);
    labelCells();
    pad.setAttribute("aria-label", pad.dataset.emptyLabel);
  }
  pad.dataset.emptyLabel = pad.getAttribute("aria-label");
  $("playground-clear").addEventListener("click", clearDrawing);
  drawnClass.addEventListener("change", restyleDrawing);
  drawnClassSetter = (c) => {
    drawnClass.value = String(c);
    restyleDrawing();
  };

  // The chosen digit's example strokes, slanted and sized a little differently each time.
  $("playground-example").addEventListener("click", () => {
    clearDrawing();
    const slant = (Math.random() - 0.5) * 0.5;
    const wide = 0.8 + Math.random() * 0.35;
    const tall = 0.7 + Math.random() * 0.15;
    const side = pad.width;
    const place = ([u, v]) => [
      side * (0.5 + wide * tall * (u - 0.5) + slant * tall * (0.5 - v)),
      side * (0.5 + tall * (v - 0.5)),
    ];
    for (const path of EXAMPLES[Number(drawnClass.value)]) {
      const points = path.map(place);
      dot(points[0]);
      for (let k = 1; k < points.length; k++) line(points[k - 1], points[k]);
    }
    strokeEnded();
  });

  // -- Loading: the header, the weights, their checksum --

  async function load() {
    const headerResponse = await fetch(HEADER_URL, { cache: "no-cache" });
    if (!headerResponse.ok) {
      throw new Error(`Could not load the model (HTTP ${headerResponse.status} for weights.json).`);
    }
    const loaded = await headerResponse.json();
    status.textContent = `Downloading the model's weights (${megabytes(loaded.bytes)})\u2026`;
    // Both files are revalidated with the server: a cached copy of an older weights.bin is
    // not checked against a newer header.
    const response = await fetch(new URL(loaded.file, headerResponse.url), { cache: "no-cache" });
    if (!response.ok) {
      throw new Error(`Could not load the model (HTTP ${response.status} for ${loaded.file}).`);
    }
    const buffer = await response.arrayBuffer();
    if ((await sha256(buffer)) !== String(loaded.sha256).toLowerCase()) {
      throw new Error(CHECKSUM_MESSAGE);
    }
    const floats = await decodeFloats(buffer, loaded.dtype);
    return [loaded, buildModel(loaded, floats)];
  }

  status.textContent = "Loading the trained model\u2026";
  load()
    .then(([loaded, built]) => {
      header = loaded;
      model = built;
      directions = header.latent.directions.slice(0, sliders.length);
      spreads = header.latent.spreads.slice(0, sliders.length);
      base = Float32Array.from(header.latent.centre);
      sliders.forEach((slider, k) => {
        if (k >= directions.length) slider.closest(".playground-slider").hidden = true;
      });
      latentFromSliders();
      drawSample();
      $("playground-run").textContent = describeRun(header);
      for (const control of controls) control.disabled = false;
      status.textContent = "Ready: the model runs in this page, and nothing you draw leaves it.";
      restyleDrawing(); // a drawing made while the weights were loading
      settle();
    })
    .catch((error) => {
      model = null;
      for (const control of controls) control.disabled = true;
      showError(error instanceof Error ? error.message : String(error));
      fail(error);
    });
})();
