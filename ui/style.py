"""The UI's stylesheet (a Python string, so it ships with the package without package-data).

Colours of highlights are fixed (readable in light and dark mode); everything else uses the
theme's CSS variables.
"""

CSS = """
#intro h1 { font-size: 1.5rem; margin: 0.2rem 0 0.3rem; }
#intro p { margin: 0 0 0.4rem; color: var(--body-text-color-subdued); max-width: 62rem; }
#sources { min-height: 200px; }
.sources-title { font-weight: 600; margin: 0.1rem 0 0.5rem; }
.sources-empty { color: var(--body-text-color-subdued); border: 1px dashed var(--border-color-primary);
  border-radius: 8px; padding: 1rem; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6rem 0.8rem;
  margin-bottom: 0.6rem; background: var(--background-fill-secondary); }
.src-card.closest { border-style: dashed; }
.src-head { font-weight: 600; }
.src-n { color: var(--color-accent); margin-right: 0.2rem; }
.src-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0.15rem 0 0.45rem;
  overflow-wrap: anywhere; }
.src-para { white-space: pre-wrap; line-height: 1.55; margin: 0; }
mark.cited { background: #fde68a; color: #1f2937; padding: 0 0.1em; border-radius: 2px; }
mark.closest { background: transparent; color: inherit; border-bottom: 2px dashed #9ca3af; }
sup.cite-n { font-weight: 600; color: var(--color-accent); margin-left: 0.1em; }
.abstain-box { border-left: 4px solid #d97706; background: rgba(217, 119, 6, 0.12); padding: 0.6rem 0.8rem;
  border-radius: 6px; margin-bottom: 0.8rem; }
.abstain-box p { margin: 0.3rem 0 0; }
.chat-abstain { border-left: 3px solid #d97706; padding-left: 0.6rem; }
.chat-error { color: #b91c1c; }
.index-status { padding: 0.55rem 0.8rem; border-radius: 8px; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); }
#documents-table * { font-family: var(--font) !important; }  /* titles read better than in the table's monospace */
.chat-answer sup.cite-n { font-size: 0.75em; }
.index-status.index-missing { border-left: 4px solid #d97706; }
.index-note { margin-top: 0.4rem; padding: 0.45rem 0.8rem; border-radius: 8px; }
.index-note.index-refused { border-left: 4px solid #b91c1c; background: rgba(185, 28, 28, 0.10); }
.index-note.index-waiting { border-left: 4px solid #2563eb; background: rgba(37, 99, 235, 0.10); }
"""
