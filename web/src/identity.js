/*
 * Who this browser is to the others: a name and a colour, random the first
 * time and then kept in localStorage; the name is editable in the header.
 */

const ADJECTIVES = [
  'Amber', 'Brisk', 'Calm', 'Daring', 'Eager', 'Fuzzy', 'Gentle', 'Happy',
  'Jolly', 'Keen', 'Lucky', 'Merry', 'Nimble', 'Plucky', 'Quiet', 'Rapid',
  'Sunny', 'Swift', 'Tidy', 'Witty',
];

const ANIMALS = [
  'Badger', 'Crane', 'Dolphin', 'Falcon', 'Gecko', 'Heron', 'Ibex',
  'Koala', 'Lynx', 'Marten', 'Narwhal', 'Otter', 'Panda', 'Quokka', 'Raven',
  'Seal', 'Tapir', 'Walrus', 'Yak', 'Zebra',
];

const NAME_KEY = 'collab.name';
const HUE_KEY = 'collab.hue';

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

function load(key, make) {
  let v = null;
  try {
    v = localStorage.getItem(key);
    if (v === null) {
      v = make();
      localStorage.setItem(key, v);
    }
  } catch (e) {
    /* storage disabled: a fresh identity per page */
    v = v === null ? make() : v;
  }
  return v;
}

/* a saturated, readable colour as #rrggbb (others add an alpha to it) */
export function colorOf(hue) {
  const s = 0.7;
  const l = 0.42;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => {
    const k = (n + hue / 30) % 12;
    const v = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(v * 255).toString(16).padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

/* colours from other participants end up in style attributes: check them */
export function safeColor(c) {
  return typeof c === 'string' && /^#[0-9a-fA-F]{6}$/.test(c) ? c : '#6e7781';
}

export function getIdentity() {
  const name = load(NAME_KEY, () => `${pick(ADJECTIVES)} ${pick(ANIMALS)}`);
  const hue = Number(load(HUE_KEY, () => String(Math.floor(Math.random() * 360))));

  return {name, color: colorOf(hue)};
}

export function setName(name) {
  const clean = name.trim().slice(0, 40);
  if (clean) {
    try {
      localStorage.setItem(NAME_KEY, clean);
    } catch (e) {
      /* not kept: fine */
    }
  }
  return getIdentity();
}
