/*
 * docktest's script, once per chapter (print.html brings it per chapter, hence the guard).
 *
 * 1. Each badge's data-dt says, per line of the block above it, how long its prompt is and whether the rest
 *    is a command (c) or not typed (o): the preprocessor decided, from the page's grammar. Once mdBook has
 *    highlighted the code, each prompt gets a span .dt-p and each untyped line, newline included, a span
 *    .dt-o, around the text where it lies (inside highlight.js's spans), so the highlighting stays.
 * 2. mdBook's copy button copies the code's innerText, which leaves out what is not displayed (so it leaves
 *    out hidden Rust lines). Around the button's click, before mdBook's own handler (on document.body) and
 *    after it, the block hides its prompts and output (.dt-copy) and shows them again: no frame is drawn in
 *    between, and mdBook's copying, tooltip and fallback stay as they are.
 *
 * Without JavaScript the block is the plain text mdBook shows for any fence.
 */
(() => {
    if (window.docktestCopy) return;
    window.docktestCopy = 1;
    const mark = (badge) => {
        const pre = badge.previousElementSibling;
        const code = pre && pre.tagName == 'PRE' && pre.querySelector('code');
        if (!code) return;
        const ranges = [];
        let at = 0;
        const lines = code.textContent.split('\n');
        badge.dataset.dt.split(',').forEach((role, i) => {
            const end = at + (lines[i] || '').length + 1;
            const prompt = Math.min(at + parseInt(role), end - 1);
            if (prompt > at) ranges.push([at, prompt, 'dt-p']);
            if (role.endsWith('o')) ranges.push([prompt, end, 'dt-o']);
            at = end;
        });
        const texts = [];
        const walk = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
        for (let n = 0; walk.nextNode(); n += walk.currentNode.length) texts.push([walk.currentNode, n]);
        /* From the end, so that cutting a text node leaves the offsets before it as they were. */
        for (const [node, start] of texts.reverse()) {
            const end = start + node.length;
            for (const [a, b, name] of ranges.slice().reverse()) {
                if (a >= end || b <= start) continue;
                const piece = node.splitText(Math.max(a, start) - start);
                piece.splitText(Math.min(b, end) - Math.max(a, start));
                const span = document.createElement('span');
                span.className = name;
                piece.replaceWith(span);
                span.append(piece);
            }
        }
        pre.classList.add('docktest');
    };
    addEventListener('DOMContentLoaded', () => document.querySelectorAll('.docktest-badge[data-dt]').forEach(mark));
    let pre;
    addEventListener('click', (e) => {
        pre = e.target.closest && e.target.closest('.clip-button') && e.target.closest('pre.docktest');
        if (pre) pre.classList.add('dt-copy');
    }, true);
    addEventListener('click', () => pre && pre.classList.remove('dt-copy'));
})();
