"""The UI's stylesheet (a Python string, so it ships with the package without package-data).

Colours of highlights are fixed (readable in light and dark mode); text colours are chosen for
at least 4.5:1 contrast in both (the theme's secondary text is darkened in ``app.theme``).
Below 700 px (a phone) the columns stack: the intro shrinks to one line, answers link down to
their sources, and the documents table reads as a list.
"""

CSS = """
#intro .intro-top { display: flex; align-items: center; justify-content: space-between; gap: 0.5rem; }
#intro h1 { font-size: 1.5rem; margin: 0.2rem 0 0.3rem; }
#intro p { margin: 0 0 0.4rem; color: var(--body-text-color-subdued); max-width: 62rem; }
#intro .intro-short { display: none; }
#theme-toggle { white-space: nowrap; border: 1px solid var(--border-color-primary); border-radius: 999px; padding: 0.25rem 0.75rem;
  background: var(--background-fill-primary); color: var(--body-text-color); cursor: pointer; font-size: 0.9rem; }
#theme-toggle:focus-visible, #ask:focus-visible, #new-conversation:focus-visible, #remove:focus-visible,
a.cite-n:focus-visible, a.to-sources:focus-visible, a.to-answer:focus-visible, a.copy-msg:focus-visible {
  outline: 3px solid #1d4ed8 !important; outline-offset: 2px; }  /* over Gradio's white-on-white ring */
.dark #theme-toggle:focus-visible, .dark #ask:focus-visible, .dark #new-conversation:focus-visible,
.dark #remove:focus-visible, .dark a.cite-n:focus-visible, .dark a.to-sources:focus-visible,
.dark a.to-answer:focus-visible { outline-color: #93c5fd !important; }
body.dark .to-dark, body:not(.dark) .to-light { display: none; }
#chat button[aria-label="Clear"] { display: none; }  /* "New conversation" does it; the icon sat on the copy icons */
#sources { min-height: 200px; }
#sources-column { position: sticky; top: 0.5rem; align-self: flex-start; max-height: calc(100vh - 1rem);
  overflow-y: auto; }
.sources-title { font-weight: 600; margin: 0.1rem 0 0.5rem; }
.sources-empty { color: var(--body-text-color-subdued); border: 1px dashed var(--border-color-primary);
  border-radius: 8px; padding: 1rem; }
.turn-sources { display: none; }
.turn-sources.current { display: block; }
.turn-head { margin-bottom: 0.5rem; }
.turn-question { color: var(--body-text-color-subdued); font-size: 0.9em; margin-top: 0.15rem; overflow-wrap: anywhere; }
a.to-answer, a.to-sources { font-size: 0.85em; color: var(--link-text-color, #1d4ed8); }
.answer-foot { margin-top: 0.35rem; display: flex; gap: 0.9rem; align-items: baseline; }
a.copy-msg { font-size: 0.85em; color: var(--link-text-color, #1d4ed8); text-decoration: none; cursor: pointer; }
a.copy-msg::after { content: "Copy"; }  /* text from CSS: the message's own text stays the message */
a.copy-msg.copied::after { content: "Copied ✓"; }
a.copy-msg:hover { text-decoration: underline; }
.q-text + a.copy-msg { margin-left: 0.6rem; }
.dark a.copy-msg { color: #93c5fd; }
.src-doc { margin-bottom: 0.8rem; }
.src-doc-head { margin-bottom: 0.5rem; }
.src-doc-head .src-title { font-weight: 600; }
.src-doc-head .src-meta { margin-bottom: 0; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6rem 0.8rem;
  margin-bottom: 0.6rem; background: var(--background-fill-secondary); scroll-margin: 1rem; }
.src-card.closest { border-style: dashed; }
.flash { animation: src-flash 1.6s ease-out; }
@keyframes src-flash { 0%, 40% { box-shadow: 0 0 0 3px #2563eb; background: rgba(37, 99, 235, 0.18); } 100% { box-shadow: none; } }
.src-head { font-weight: 600; }
.src-n { color: var(--body-text-color); margin-right: 0.2rem; }
.src-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0.15rem 0 0.45rem;
  overflow-wrap: anywhere; }
.src-para { white-space: pre-wrap; line-height: 1.55; margin: 0; }
mark.cited { background: #fde68a; color: #1f2937; padding: 0 0.1em; border-radius: 2px; }
mark.closest { background: transparent; color: inherit; border-bottom: 2px dashed #9ca3af; }
sup.cite-n { font-weight: 600; color: var(--body-text-color); margin-left: 0.1em; }
a.cite-n { font-weight: 600; font-size: 0.8em; vertical-align: super; line-height: 0; margin-left: 0.1em;
  color: #1d4ed8; text-decoration: none; border-radius: 3px; padding: 0 0.1em; cursor: pointer; }
.dark a.cite-n, .dark a.to-answer, .dark a.to-sources { color: #93c5fd; }
a.cite-n:hover { text-decoration: underline; }
#cite-preview { position: fixed; z-index: 1000; padding: 0.5rem 0.7rem; border-radius: 8px; font-size: 0.9rem;
  background: #111827; color: #f9fafb; box-shadow: 0 4px 16px rgba(0, 0, 0, 0.25); pointer-events: none; }
#cite-preview .tip-title { font-weight: 600; margin-bottom: 0.25rem; }
.possible-answer { margin-top: 0.45rem; }
.possible-answer summary, .closest-passages summary { cursor: pointer; font-weight: 600; }
.possible-answer p { margin: 0.35rem 0 0; }
.abstain-box { border-left: 4px solid #d97706; background: rgba(217, 119, 6, 0.12); padding: 0.6rem 0.8rem;
  border-radius: 6px; margin-bottom: 0.8rem; }
.abstain-box p { margin: 0.3rem 0 0; }
.chat-abstain { border-left: 3px solid #d97706; padding-left: 0.6rem; }
.chat-uncertain { color: var(--body-text-color-subdued); font-size: 0.9em; margin-top: 0.3rem; }
#examples { flex-wrap: wrap; gap: 0.4rem; }
.example-chip { flex: 0 1 auto !important; min-width: 0 !important; }
.chat-pending { color: var(--body-text-color-subdued); font-style: italic; }
.searched { color: var(--body-text-color-subdued); font-size: 0.85em; margin-top: 0.3rem; font-style: italic; }
.chat-error { color: #b91c1c; }
.dark .chat-error { color: #fca5a5; }
.index-status { padding: 0.55rem 0.8rem; border-radius: 8px; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); }
.index-status.index-missing { border-left: 4px solid #d97706; }
#index-status { min-height: 3.2rem; }
.index-note { margin-top: 0.4rem; padding: 0.45rem 0.8rem; border-radius: 8px; }
.index-note.index-refused { border-left: 4px solid #b91c1c; background: rgba(185, 28, 28, 0.10); }
.index-note.index-waiting { border-left: 4px solid #2563eb; background: rgba(37, 99, 235, 0.10); }
.doc-table-wrap { max-height: 420px; overflow: auto; border: 1px solid var(--border-color-primary); border-radius: 8px; }
table.doc-table { width: 100%; border-collapse: collapse; font-size: 0.92rem; border: 0; margin: 0; }
.doc-table caption { text-align: left; font-weight: 600; padding: 0.5rem 0.7rem; }
.doc-table th, .doc-table td { text-align: left; padding: 0.4rem 0.7rem; border: 0;
  border-top: 1px solid var(--border-color-primary); vertical-align: top; }
.doc-table thead, .doc-table tbody, .doc-table tr { border: 0; margin: 0; }
.doc-table thead th { font-weight: 600; background: var(--background-fill-secondary); }
.doc-table tbody th { font-weight: 600; }
.doc-table .col-date, .doc-table .col-chunks, .doc-table .col-sentences { white-space: nowrap; }
.doc-table td.col-source { overflow-wrap: anywhere; color: var(--body-text-color-subdued); }
.doc-table-empty { padding: 0.7rem; color: var(--body-text-color-subdued); }
@media (max-width: 700px) {
  #intro .intro-long { display: none; }
  #intro .intro-short { display: block; }
  #intro h1 { font-size: 1.2rem; }
  #chat { height: 52vh !important; max-height: 52vh; }
  #sources-column { position: static; max-height: none; overflow: visible; }
  .doc-table thead { display: none; }
  table.doc-table, .doc-table tbody, .doc-table caption { display: block; }
  .doc-table tr { display: block; padding: 0.45rem 0.7rem; border: 0; border-top: 1px solid var(--border-color-primary); }
  .doc-table th, .doc-table td { display: inline; padding: 0; border: none; }
  .doc-table tbody th { display: block; }
  .doc-table td.col-chunks, .doc-table td.col-sentences { white-space: normal; }
  .doc-table td + td::before { content: " · "; }
  .doc-table td.col-chunks::after, .doc-table td.col-sentences::after { content: " " attr(data-label); }
  .doc-table td.col-source { display: block; font-size: 0.85em; }
  .doc-table td.col-source::before { content: none; }
}
"""
