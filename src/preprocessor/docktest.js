/*
 * docktest: mdBook's copy button copies an example's commands only. mdBook copies the code's innerText,
 * which leaves out what is not displayed (so it leaves out hidden Rust lines). Around the button's click,
 * before mdBook's own handler (on document.body) and after it, an example hides its prompts and output
 * (.dt-copy) and shows them again: no frame is drawn in between, and mdBook's copying, tooltip and fallback
 * stay as they are. A chapter brings this script once; print.html brings it per chapter, hence the guard.
 */
(() => {
    if (window.docktestCopy) return;
    window.docktestCopy = 1;
    let pre;
    addEventListener('click', (e) => {
        pre = e.target.closest && e.target.closest('.clip-button') && e.target.closest('pre.docktest');
        if (pre) pre.classList.add('dt-copy');
    }, true);
    addEventListener('click', () => pre && pre.classList.remove('dt-copy'));
})();
