// The editorial desk: sends each change (with the session token and the issue file's version), then swaps in
// the parts of the page and the letter that the rebuild changed. Plain JavaScript, no build step.
"use strict";

const token = document.querySelector('meta[name="csrf-token"]').content;
const body = document.body;
const FRAMES = { "desktop-frame": "letter.html", "phone-frame": "letter.html", "dark-frame": "letter-dark.html",
                 "text-frame": "letter.txt", "members-frame": "letter-members.html" };
let queue = Promise.resolve();  // one change at a time: each is made on the version the previous one wrote
let typing = null;
let loading = Promise.resolve();  // the frame on show taking a new letter: the rest of the page waits for it
const LOOK_AHEAD = 12;  // siblings searched for an unchanged node when patching a letter (an item is a few nodes)
// Every sentence the script shows comes from the page, in the desk's language (digest.review.deskview).
const WORDS = JSON.parse(document.getElementById("desk-words").textContent);

// The outcome of a change, at the top of the page and next to the control that made it (both live regions).
// `find` finds that control again: a refresh replaces the parts of the page, and the outcome stays beside it.
let said = null;
function say(text, bad, find) {
  const message = document.getElementById("message");
  message.textContent = text || "";
  message.classList.toggle("bad", Boolean(bad));
  said = text && find ? { text, bad, find } : null;
  place();
}

function place() {
  for (const old of document.querySelectorAll("p.said")) old.remove();
  const near = said && said.find();
  if (!near) return;
  const line = document.createElement("p");
  line.className = "said" + (said.bad ? " bad" : "");
  line.setAttribute("role", said.bad ? "alert" : "status");
  line.textContent = said.text;
  near.after(line);
}

async function post(url, data) {
  data.set("token", token);
  data.set("version", body.dataset.issueVersion);
  const response = await fetch(url, { method: "POST", body: new URLSearchParams(data),
                                      headers: { "Accept": "application/json" } });
  let answer = {};
  try { answer = await response.json(); } catch (error) { answer = { message: response.statusText }; }
  return { ok: response.ok, answer };
}

// body.dataset.pending counts the changes and refreshes not finished yet (the tests wait for 0).
function later(work) {
  body.dataset.pending = String(Number(body.dataset.pending || 0) + 1);
  queue = queue.then(work).catch((error) => say(WORDS.no_answer + error, true))
    .finally(() => { body.dataset.pending = String(Number(body.dataset.pending) - 1); });
  return queue;
}

// The place next to a form where its outcome is said: the form itself, or for a card's button its actions.
function anchorOf(form) {
  if (!form) return null;
  if (form.id === "add-form") return document.querySelector('button[aria-controls="add-form"]');
  return form.closest(".actions, .field, li, form") || form;
}

// Where a change's outcome is said: beside its form, else (its part of the page rebuilt) beside its card's actions.
function finder(form, name, op) {
  return () => {
    if (form && form.isConnected) return anchorOf(form);
    const found = name && document.querySelector(`li.card[data-name="${CSS.escape(name)}"]`);
    if (found) return found.querySelector(".actions");
    return op === "section" ? document.getElementById("sections-order") : null;
  };
}

function change(data, form) {
  const find = finder(form, data.get("name"), data.get("op"));
  return later(async () => {
    const { ok, answer } = await post("action", data);
    if (ok) {
      body.dataset.issueVersion = answer.issue_version;
      reload(answer.version, answer.letter);  // the letter first: it is what the editor looks at
      if (form && form.id === "add-form") {  // added: the form empties and closes, so a second click adds nothing
        form.reset();
        form.hidden = true;
        document.querySelector('button[aria-controls="add-form"]').setAttribute("aria-expanded", "false");
      }
      await loading;
    }
    await refresh();
    say(ok ? (answer.message || "") : (answer.message || WORDS.not_saved), !ok, find);
  });
}

async function refresh() {
  const response = await fetch("state", { headers: { "Accept": "application/json" } });
  const state = await response.json();
  reload(state.version);
  for (const old of document.querySelectorAll("p.said")) old.remove();  // not part of the page's parts
  for (const [id, html] of Object.entries(state.parts)) {
    const element = document.getElementById(id);
    if (element && element.innerHTML !== html) element.innerHTML = html;
  }
  for (const [name, value] of Object.entries(state.words)) {
    const field = document.getElementById(name);
    if (field && document.activeElement !== field && typing === null && field.value !== value) field.value = value;
    if (field) field.placeholder = state.placeholders[name] || "";
  }
  counts();
  place();
  body.dataset.issueVersion = state.issue_version;
}

// The letter of this build in the frame on show (`html`: letter.html's text, when the answer brought it); the
// hidden frames take it when they are shown. Each frame's data-shows says which letter it shows.
function reload(version, html) {
  if (String(version) === body.dataset.version) return;
  body.dataset.version = String(version);
  for (const [id, path] of Object.entries(FRAMES)) {
    const frame = document.getElementById(id);
    if (!frame) continue;  // a view not shown yet: made on this letter when it is
    frame.dataset.src = `${path}?v=${version}`;
    if (!frame.hidden) loading = update(frame, path === "letter.html" ? html : undefined);
  }
}

// Bring a frame to its newest letter. An HTML letter already there is patched in place: only what changed is
// redrawn, the pictures and the place read stay, and the change shows in the next frame painted. The text
// version, or a frame with nothing loaded yet, loads the letter's address.
async function update(frame, html) {
  const src = frame.dataset.src;
  const doc = frame.contentDocument;
  if (frame.id === "text-frame" || !doc || doc.readyState !== "complete" || doc.URL === "about:blank" ||
      !doc.documentElement) return load(frame);
  if (html === undefined) {
    try {
      const response = await fetch(src);
      if (!response.ok) return load(frame);
      html = await response.text();
    } catch (error) {
      return load(frame);  // no answer: the frame's own load says what the browser can
    }
  }
  if (frame.dataset.src !== src) return undefined;  // a newer letter came meanwhile: its update shows it
  // Parsed inert (no script runs, nothing loads) by the frame's own parser, under the letter's policy (the
  // page's would refuse every style attribute, one report each: ten times slower), then copied into the frame's
  // document, where the letter's policy and the sandbox apply, as when the frame loads the letter.
  const fresh = new frame.contentWindow.DOMParser().parseFromString(html, "text/html");
  morph(doc.documentElement, fresh.documentElement, doc);
  frame.dataset.shows = src;
  return painted(frame);  // the page's own updates wait for it: the letter is what the editor looks at
}

function load(frame) {
  // The page's own updates wait for this load (or a second at most): they share the frame's thread.
  return new Promise((resolve) => {
    frame.addEventListener("load", resolve, { once: true });
    setTimeout(resolve, 1000);
    frame.src = frame.dataset.src;
  });
}

// Make the node `old` of the frame's document `doc` like `neu`, touching only what differs: attributes and
// text set, nodes kept when equal, removed or inserted when a sibling further on matches, else patched alike.
function morph(old, neu, doc) {
  if (old.nodeType !== Node.ELEMENT_NODE) {
    if (old.nodeValue !== neu.nodeValue) old.nodeValue = neu.nodeValue;
    return;
  }
  for (const name of old.getAttributeNames()) if (!neu.hasAttribute(name)) old.removeAttribute(name);
  for (const name of neu.getAttributeNames()) {
    const value = neu.getAttribute(name);
    if (old.getAttribute(name) !== value) old.setAttribute(name, value);
  }
  let mine = old.firstChild;
  for (let theirs = neu.firstChild; theirs; theirs = theirs.nextSibling) {
    if (mine && mine.isEqualNode(theirs)) { mine = mine.nextSibling; continue; }
    const kept = ahead(mine, theirs);
    if (kept) {  // the old nodes before it are gone from the letter
      while (mine !== kept) { const gone = mine; mine = mine.nextSibling; gone.remove(); }
      mine = mine.nextSibling;
    } else if (mine && ahead(theirs.nextSibling, mine)) {  // a new node, the old one comes later
      old.insertBefore(doc.importNode(theirs, true), mine);
    } else if (mine && mine.nodeType === theirs.nodeType && mine.nodeName === theirs.nodeName) {
      morph(mine, theirs, doc);
      mine = mine.nextSibling;
    } else {
      const made = doc.importNode(theirs, true);
      if (mine) { old.replaceChild(made, mine); mine = made.nextSibling; } else old.appendChild(made);
    }
  }
  while (mine) { const gone = mine; mine = mine.nextSibling; gone.remove(); }
}

// The node among `start` and its next siblings (a few) that equals `wanted`, else null.
function ahead(start, wanted) {
  let node = start;
  for (let step = 0; node && step < LOOK_AHEAD; step += 1, node = node.nextSibling) {
    if (node.isEqualNode(wanted)) return node;
  }
  return null;
}

function counts() {
  for (const count of document.querySelectorAll(".count")) {
    const field = document.getElementById(count.dataset.for);
    const text = field.value || field.placeholder;
    const [phone, desktop] = count.dataset.cuts.split(",").map(Number);
    count.textContent = WORDS.count.replace("{count}", text.length).replace("{phone}", phone)
      .replace("{desktop}", desktop) + (field.value ? "" : WORDS.default_text);
    count.classList.toggle("long", text.length > desktop);
    for (const shown of document.querySelectorAll(`#inbox .${count.dataset.for}`)) shown.textContent = text;
  }
}

function fit(frame) {
  const doc = frame.contentDocument;
  // The page's own height, not the scroll height, which is never less than the frame's (it would only grow).
  if (!doc || !doc.documentElement) return;
  frame.style.height = (Math.ceil(doc.documentElement.getBoundingClientRect().height) + 2) + "px";
}

// A frame's new letter measured; resolves once the frame painted with it went out, the time noted (the
// benchmark reads it).
function painted(frame) {
  fit(frame);
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(() => {
    window.deskFrames = { ...(window.deskFrames || {}), [frame.id]: Date.now() };
    resolve();
  })));
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.id === "language-form") {  // remembered by the desk (a cookie), then the page again in that language
    event.preventDefault();
    const data = new FormData(form);
    data.set("lang", event.submitter.value);
    fetch("language", { method: "POST", body: new URLSearchParams(data) }).then(() => window.location.reload());
    return;
  }
  if (form.id === "test-form" || form.id === "approval-form") {  // a mail goes out: its outcome said below
    event.preventDefault();
    const result = document.getElementById(form.id === "test-form" ? "test-result" : "approval-result");
    result.textContent = WORDS.sending;
    post(form.getAttribute("action"), new FormData(form)).then(({ answer }) => { result.textContent = answer.message; })
      .catch((error) => { result.textContent = WORDS.no_answer + error; });
    return;
  }
  if (!form.matches("form.act, #words-form")) return;
  event.preventDefault();
  change(new FormData(form, event.submitter), form);  // a card's button says its action (op)
});

document.addEventListener("click", (event) => {
  const toggle = event.target.closest("button.toggle");
  if (toggle && toggle.getAttribute("aria-controls") === "edit-form") {
    edit(document.getElementById("edit-form"), toggle);
    return;
  }
  if (toggle) {
    const target = document.getElementById(toggle.getAttribute("aria-controls"));
    target.hidden = !target.hidden;
    toggle.setAttribute("aria-expanded", String(!target.hidden));
    if (!target.hidden) target.querySelector("input, textarea, select")?.focus();
    return;
  }
  const view = event.target.closest("button[data-view]");
  if (view) {
    for (const frame of document.querySelectorAll("iframe.view")) frame.hidden = true;
    const frame = viewFrame(`${view.dataset.view}-frame`);
    frame.hidden = false;
    if (frame.dataset.src && frame.dataset.shows !== frame.dataset.src) update(frame);
    if (view.dataset.width) frame.width = view.dataset.width;
    for (const other of document.querySelectorAll("button[data-view]")) other.classList.toggle("on", other === view);
    painted(frame);
  }
});

document.getElementById("words-form").addEventListener("input", () => {
  counts();
  clearTimeout(typing);
  typing = setTimeout(() => {
    typing = null;
    const words = document.getElementById("words-form");
    change(new FormData(words), document.activeElement?.closest(".field") ? document.activeElement : words);
  }, 120);  // saved once the editor pauses: the letter follows within 300 ms of the last keystroke
});

// Below 1000 px the letter is behind a sticky switch: the work or the letter, each the page's whole width.
const letterSwitch = document.getElementById("letter-switch");
letterSwitch.addEventListener("click", () => {
  const showing = body.classList.toggle("show-letter");
  letterSwitch.setAttribute("aria-pressed", String(showing));
  letterSwitch.textContent = showing ? letterSwitch.dataset.hide : letterSwitch.dataset.show;
  if (showing) for (const frame of document.querySelectorAll("iframe.view:not([hidden])")) painted(frame);
  window.scrollTo(0, 0);
});

// A picture that cannot be loaded (offline, moved): a quiet box saying what it showed, not a broken icon.
function missing(picture) {
  if (picture.dataset.missing) return;
  picture.dataset.missing = "1";
  const box = document.createElement("span");
  box.className = "picture-missing";
  box.setAttribute("role", "img");
  box.textContent = picture.alt || WORDS.no_picture;
  box.setAttribute("aria-label", box.textContent);
  picture.replaceWith(box);
}
document.addEventListener("error", (event) => {
  if (event.target instanceof HTMLImageElement) missing(event.target);
}, true);
// Those that failed before this script ran.
for (const picture of document.images) if (picture.complete && picture.naturalWidth === 0) missing(picture);

// The one form that edits an article, brought into the card whose « Modifier » was pressed and filled with its
// words; pressed again, closed.
function edit(form, toggle) {
  const card = toggle.closest("li.card");
  const open = !form.hidden && form.previousElementSibling === card.querySelector(".actions");
  for (const other of document.querySelectorAll('button.toggle[aria-controls="edit-form"]')) {
    other.setAttribute("aria-expanded", "false");
  }
  form.hidden = open;
  if (open) return;
  const words = card.dataset;
  const values = { name: words.name, title: words.title, teaser: words.teaser, image: words.image,
                   section: words.section };
  for (const [key, value] of Object.entries(values)) {
    form.elements[key].value = value || "";
    if (form.elements[`was_${key}`]) form.elements[`was_${key}`].value = value || "";
  }
  card.querySelector(".actions").after(form);
  toggle.setAttribute("aria-expanded", "true");
  form.elements.title.focus();
}

// A view's frame, made from its template the first time it is shown, for the letter now on show.
function viewFrame(id) {
  let frame = document.getElementById(id);
  if (frame) return frame;
  const views = document.getElementById("other-views");
  frame = views.content.getElementById(id).cloneNode(true);
  frame.dataset.src = `${FRAMES[id]}?v=${body.dataset.version}`;
  watch(frame);
  views.before(frame);
  return frame;
}

function watch(frame) {
  frame.addEventListener("load", () => { if (frame.getAttribute("src")) loaded(frame); });
}

function loaded(frame) {
  frame.dataset.shows = frame.getAttribute("src");
  painted(frame);
  // The letter's height changes after a patch too (a picture that loads or fails later): the frame follows it.
  const doc = frame.contentDocument;
  if (frame.resizing) frame.resizing.disconnect();  // the document it watched is gone
  frame.resizing = new ResizeObserver(() => fit(frame));
  if (doc && doc.documentElement) frame.resizing.observe(doc.documentElement);
}
for (const frame of document.querySelectorAll("iframe")) {
  watch(frame);
  // A frame may have loaded before this script ran: measure it now.
  if (frame.contentDocument && frame.contentDocument.readyState === "complete" &&
      frame.contentDocument.URL !== "about:blank") loaded(frame);
}
counts();

const events = new EventSource("events");
events.addEventListener("build", (event) => {
  const built = JSON.parse(event.data);
  if (String(built.version) === body.dataset.version) return;
  // A change of this page under way brings its letter in its answer, then refreshes the page: nothing to fetch.
  if (Number(body.dataset.pending) > 0) { later(async () => { await refresh(); }); return; }
  if (built.ok) reload(built.version);  // the letter at once; the rest of the page follows
  later(async () => { await loading; await refresh(); });
});
