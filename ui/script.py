"""The page's script (``launch(js=SCRIPT)``), run once when the page loads.

What it does, all through event delegation on ``document`` (Gradio re-renders the chat):

- Citations: hovering or focusing an answer's ``[n]`` previews the cited sentence with its
  document title (a tooltip built with ``textContent`` only, never HTML); clicking it shows that
  answer's sources in the panel, scrolls to the card and flashes it. "Sources (k) ↓" under an
  answer and "↑ back to the answer" in the panel move between the two (on a phone the panel is
  below the chat).
- Copy: each message has its own "Copy" link (Gradio's copy button is hidden: it copied a
  neighbouring message once a chat had several turns). An answer's link copies the plain text
  its sources section carries in ``data-copy`` (answer with ``[n]`` markers and numbered
  sources); a question's copies the question as typed.
- Screen readers: Gradio labels each message with its raw HTML; the label is replaced by the
  message's visible text.
- Theme: the light/dark button (``#theme-toggle``) switches Gradio's ``dark`` class without a
  reload and remembers the choice in ``localStorage``.
"""

SCRIPT = r"""
() => {
  if (window.__ragUI) return;
  window.__ragUI = true;
  const THEME_KEY = "rag-ui-theme";

  function setTheme(mode) {
    document.body.classList.toggle("dark", mode === "dark");
    const button = document.getElementById("theme-toggle");
    if (button) button.setAttribute("aria-pressed", String(mode === "dark"));
  }
  const savedTheme = localStorage.getItem(THEME_KEY);
  if (savedTheme === "dark" || savedTheme === "light") setTheme(savedTheme);

  function section(turn) {
    return document.querySelector(`#sources .turn-sources[data-turn="${CSS.escape(turn)}"]`);
  }
  function card(turn, n) {
    const s = section(turn);
    return s ? s.querySelector(`.src-card[data-cites~="${CSS.escape(n)}"]`) : null;
  }
  function showTurn(turn) {
    document.querySelectorAll("#sources .turn-sources").forEach((s) => {
      s.classList.toggle("current", s.dataset.turn === turn);
    });
    return section(turn);
  }
  function flash(el) {
    el.classList.remove("flash");
    void el.offsetWidth;
    el.classList.add("flash");
    setTimeout(() => el.classList.remove("flash"), 2000);
  }
  function target(link) {  // the chat keeps no data attributes: turn and n ride in the link
    const m = /^#(?:src|sources)-(\d+)(?:-(\d+))?$/.exec(link.getAttribute("href") || "");
    return m ? { turn: m[1], n: m[2] || "" } : { turn: link.dataset.turn || "", n: "" };
  }
  function citedSentence(c, n) {
    const marker = [...c.querySelectorAll("sup.cite-n")].find((s) => s.textContent === `[${n}]`);
    const mark = marker ? marker.previousElementSibling : c.querySelector("mark");
    return mark ? mark.textContent : "";
  }

  let tip = null;
  function showTip(link) {
    const { turn, n } = target(link);
    const c = card(turn, n);
    if (!c) return;
    if (!tip) {
      tip = document.createElement("div");
      tip.id = "cite-preview";
      tip.setAttribute("role", "tooltip");
      document.body.appendChild(tip);
    }
    const doc = c.closest(".src-doc");
    const title = doc ? doc.querySelector(".src-title").textContent : "";
    const head = document.createElement("div");
    head.className = "tip-title";
    head.textContent = `[${n}] ${title}`;
    const body = document.createElement("div");
    body.className = "tip-text";
    body.textContent = citedSentence(c, n);
    tip.replaceChildren(head, body);
    tip.hidden = false;
    const r = link.getBoundingClientRect();
    const width = Math.min(360, window.innerWidth - 16);
    tip.style.width = `${width}px`;
    tip.style.left = `${Math.max(8, Math.min(r.left, window.innerWidth - width - 8))}px`;
    const below = r.bottom + 6 + tip.offsetHeight < window.innerHeight;
    tip.style.top = `${below ? r.bottom + 6 : Math.max(8, r.top - 6 - tip.offsetHeight)}px`;
    link.setAttribute("aria-describedby", "cite-preview");
  }
  function hideTip() {
    if (tip) tip.hidden = true;
  }
  const citeOf = (e) => (e.target.closest ? e.target.closest("#chat a.cite-n") : null);
  document.addEventListener("mouseover", (e) => { const a = citeOf(e); if (a) showTip(a); });
  document.addEventListener("mouseout", (e) => { if (citeOf(e)) hideTip(); });
  document.addEventListener("focusin", (e) => { const a = citeOf(e); if (a) showTip(a); });
  document.addEventListener("focusout", (e) => { if (citeOf(e)) hideTip(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hideTip(); });

  document.addEventListener("click", (e) => {
    const theme = e.target.closest ? e.target.closest("#theme-toggle") : null;
    if (theme) {
      const mode = document.body.classList.contains("dark") ? "light" : "dark";
      localStorage.setItem(THEME_KEY, mode);
      setTheme(mode);
      return;
    }
    const link = e.target.closest ? e.target.closest("#chat a.cite-n, #chat a.to-sources, #sources a.to-answer") : null;
    if (!link) return;
    e.preventDefault();
    e.stopPropagation();
    const { turn, n } = target(link);
    if (link.classList.contains("to-answer")) {
      const answer = document.querySelector(`#chat .turn-${CSS.escape(turn)}`);
      if (answer) { answer.scrollIntoView({ block: "center" }); flash(answer); }
      return;
    }
    hideTip();
    const s = showTurn(turn);
    const goal = (n && card(turn, n)) || s;
    if (!goal) return;
    const folded = goal.closest("details");
    if (folded) folded.open = true;  // closest passages are collapsed until asked for
    goal.scrollIntoView({ block: n ? "center" : "start" });
    goal.focus({ preventScroll: true });
    flash(goal);
  }, true);

  // Each message's own Copy link (Gradio's copy button copied a neighbouring message).
  function copyText(link) {
    const m = /^#copy-(\d+)$/.exec(link.getAttribute("href") || "");
    const s = m ? section(m[1]) : null;
    if (s && s.dataset.copy) return s.dataset.copy;
    const msg = link.closest(".message-content, [data-testid]") || link.parentElement;
    const q = msg.querySelector(".q-text");
    return (q || msg).innerText.trim();
  }
  function showCopied(link) {
    link.classList.add("copied");
    setTimeout(() => link.classList.remove("copied"), 1500);
  }
  document.addEventListener("click", (e) => {
    const link = e.target.closest ? e.target.closest("#chat a.copy-msg") : null;
    if (!link) return;
    e.preventDefault();
    e.stopPropagation();
    const text = copyText(link);
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(() => showCopied(link), () => {});
    }
  }, true);

  let queued = false;
  function fixLabels() {
    queued = false;
    document.querySelectorAll('#chat [data-testid="bot"][aria-label], #chat [data-testid="user"][aria-label]').forEach((m) => {
      const content = m.querySelector(".message-content");
      const who = m.dataset.testid === "bot" ? "Answer" : "Question";
      const label = `${who}: ${content ? content.innerText.trim() : ""}`;
      if (m.getAttribute("aria-label") !== label) m.setAttribute("aria-label", label);
    });
  }
  new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(fixLabels); }
  }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["aria-label"] });
}
"""
