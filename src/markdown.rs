//! Fenced code blocks of a Markdown page, with byte spans and line numbers (pulldown-cmark).
