"""Layout checks a browser can measure on any page: the header on a phone, reflow at 320 px, clinic tables at
1280/1024 px, and headings that never break a word without a hyphen. Each returns a list of readable problems
(empty when the page is fine), so one run of the every-page test reports every page that fails."""

from __future__ import annotations

PHONE = {"width": 360, "height": 740}
HEADER_MAX = 111  # 15 % of a 740 px high screen

HEADER = """() => {
  const header = document.querySelector('header.site-header');
  const problems = [];
  const height = header.getBoundingClientRect().height;
  const targets = [...header.querySelectorAll('a, button, summary')];
  for (const el of targets) {
    const r = el.getBoundingClientRect();
    if (!el.getClientRects().length) continue;  // inside the closed menu
    if (r.width < 43.5 || r.height < 43.5)
      problems.push(`target smaller than 44x44: "${el.textContent.trim()}" ${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  // The link to the page we are on is marked, and shown by more than an underline.
  const here = location.pathname;
  const links = [...header.querySelectorAll('a.site-nav__link')];
  const plain = links.find(a => !a.hasAttribute('aria-current') && a.getClientRects().length);
  for (const a of links.filter(a => a.getAttribute('href') === here)) {
    if (a.getAttribute('aria-current') !== 'page') { problems.push(`no aria-current=page on "${a.textContent.trim()}"`); continue; }
    const style = getComputedStyle(a);
    if (plain && style.backgroundColor === getComputedStyle(plain).backgroundColor)
      problems.push(`the current link "${a.textContent.trim()}" has the same background as the others`);
    if (Number(style.fontWeight) < 600) problems.push(`the current link "${a.textContent.trim()}" is not bold`);
  }
  return {height, problems};
}"""

REFLOW = """(tables) => {
  const width = document.documentElement.clientWidth;
  const problems = [];
  const scrollWidth = document.documentElement.scrollWidth;
  const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    ` "${(el.textContent || '').trim().slice(0, 40)}"`;
  if (scrollWidth > width) {
    const wide = [...document.body.querySelectorAll('*')].filter(el => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.right > width + 0.5 && !el.parentElement.closest('.table-scroll');
    });
    // the innermost ones say what is too wide
    const innermost = wide.filter(el => !wide.some(other => other !== el && el.contains(other)));
    problems.push(`page is ${scrollWidth}px wide at ${width}px: ` + innermost.slice(0, 4).map(describe).join('; '));
  }
  if (tables) {
    for (const box of document.querySelectorAll('.table-scroll')) {
      if (box.getClientRects().length && box.scrollWidth > box.clientWidth + 1)
        problems.push(`table clipped (${box.scrollWidth}px in ${box.clientWidth}px): ${describe(box)}`);
    }
  }
  return problems;
}"""

HEADINGS = """() => {
  const problems = [];
  for (const h of document.querySelectorAll('h1, h2, h3, h4')) {
    if (!h.getClientRects().length) continue;
    const name = h.textContent.trim().replace(/\\u00ad/g, '');
    if (h.scrollWidth > h.clientWidth + 1) problems.push(`heading wider than its box: "${name}"`);
    const walker = document.createTreeWalker(h, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.data;
      let lastTop = null, lastChar = '', breakable = true;
      for (let i = 0; i < text.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rects = [...range.getClientRects()].filter(r => r.height > 0);
        const c = text[i];
        if (!rects.length) { if (/[\\s\\u00ad]/.test(c)) breakable = true; continue; }
        const r = rects[0];
        if (lastTop !== null && r.top > lastTop + r.height / 2 && !/\\s/.test(c) && !breakable)
          problems.push(`"${name}" breaks inside a word without a hyphen, before "${text.slice(i, i + 12)}"`);
        lastTop = r.top;
        lastChar = c;
        breakable = /[\\s\\u00ad\\-\\u2010\\u2013\\u2014\\/]/.test(c);
      }
    }
  }
  return problems;
}"""

OPEN_MENU_TARGETS = """() => {
  const problems = [];
  const menu = document.querySelector('[data-site-menu]');
  if (!menu) return problems;
  for (const el of menu.querySelectorAll('a, button, summary')) {
    const r = el.getBoundingClientRect();
    if (r.width < 43.5 || r.height < 43.5)
      problems.push(`menu target smaller than 44x44: "${el.textContent.trim()}" ${Math.round(r.width)}x${Math.round(r.height)}`);
    if (r.right > document.documentElement.clientWidth + 0.5) problems.push(`menu item off screen: "${el.textContent.trim()}"`);
  }
  return problems;
}"""


def check_page(page, *, wide: bool, menu: bool = False) -> list[str]:
    """Measure the page as it is loaded: the header and headings at 360 px, reflow and headings at 320 px,
    and (staff pages, `wide`) reflow with tables that fit at 1280 and 1024 px. Leaves the viewport at 360 px."""
    where = page.url.split("/", 3)[-1]
    problems = []
    try:
        header = page.evaluate(HEADER)
        if header["height"] > HEADER_MAX:
            problems.append(f"header {header['height']:.0f}px high at 360x740 (at most {HEADER_MAX})")
        problems += header["problems"] + page.evaluate(HEADINGS) + page.evaluate(REFLOW, False)
        if menu and page.locator("[data-site-menu]").count():
            page.locator("[data-site-menu] > summary").click()
            problems += page.evaluate(OPEN_MENU_TARGETS)
            page.keyboard.press("Escape")
        for width in (320,):
            page.set_viewport_size({"width": width, "height": 740})
            problems += [f"{width}px: {p}" for p in page.evaluate(REFLOW, False) + page.evaluate(HEADINGS)]
        if wide:
            for width in (1280, 1024):
                page.set_viewport_size({"width": width, "height": 800})
                problems += [f"{width}px: {p}" for p in page.evaluate(REFLOW, True)]
    finally:
        page.set_viewport_size(PHONE)
    return [f"/{where}: {p}" for p in problems]
