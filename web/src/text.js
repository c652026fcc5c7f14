/*
 * Code point helpers.  text-unicode counts positions in Unicode code points
 * ("😀" is 1); the browser (and CodeMirror) count UTF-16 code units.
 */

function isHigh(code) {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code) {
  return code >= 0xdc00 && code <= 0xdfff;
}

/* number of code points in s */
export function cpLength(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    if (!(isLow(s.charCodeAt(i)) && i > 0 && isHigh(s.charCodeAt(i - 1)))) {
      n++;
    }
  }
  return n;
}

/* the UTF-16 offset reached from `from` by stepping over n code points */
export function advance(s, from, n) {
  let i = from;
  while (n > 0 && i < s.length) {
    i += isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
    n--;
  }
  if (n > 0) {
    throw new Error('position beyond the end of the text');
  }
  return i;
}

/* code point index of the UTF-16 offset `off` in s */
export function toCodePoints(s, off) {
  return cpLength(s.slice(0, off));
}

/* UTF-16 offset of the code point index cp in s (clamped to the end) */
export function toUtf16(s, cp) {
  let i = 0;
  while (cp > 0 && i < s.length) {
    i += isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
    cp--;
  }
  return i;
}
