//! envc's runtime for generated Rust environments (copied verbatim into every crate).
//!
//! - `Fault`: a runtime fault of the spec (push onto a full list, draw from an empty
//!   one, index past a list's length, `fail(...)`); `site` indexes `env::FAULT_SITES`
//!   (spec location and message), `a` and `b` are the values the message names.
//! - `List<T, N>`: a list of capacity `N` stored inline (`[T; N]` plus a length);
//!   slots at or past `len` always hold `T::ZERO`, so equal lists have equal bytes.
//! - envc's counter-based RNG (envc.compiler.rng), in `u32` wrapping arithmetic.
//! - Integer floor division and modulo, and float32 `min`/`max`/`clamp` with the
//!   reference interpreter's (Python's) semantics.
//!
//! Nothing here allocates.

#![allow(dead_code)]

/// A runtime fault of the spec: `FAULT_SITES[site]` with `{a}` and `{b}` filled in (`message`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub site: u16,
    pub a: i32,
    pub b: i32,
}

impl Fault {
    #[inline]
    pub const fn at(site: u16, a: i32, b: i32) -> Fault {
        Fault { site, a, b }
    }

    /// The message of the fault, given the table of sites (`location: template`) and how to
    /// name a flat action: the template filled in one left-to-right pass, as envc's
    /// `number_faults.fill` does: `{a}`, `{b}` become the values, `{action}` becomes
    /// `action(a)`, `{{` and `}}` one brace, anything else (the spec's own text) stays.
    pub fn message(&self, sites: &[&str], action: &dyn Fn(i32) -> String) -> String {
        let template = sites.get(self.site as usize).copied().unwrap_or("unknown fault");
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(i) = rest.find(|c| c == '{' || c == '}') {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            let (text, used) = if rest.starts_with("{{") {
                ("{".to_string(), 2)
            } else if rest.starts_with("}}") {
                ("}".to_string(), 2)
            } else if rest.starts_with("{a}") {
                (self.a.to_string(), 3)
            } else if rest.starts_with("{b}") {
                (self.b.to_string(), 3)
            } else if rest.starts_with("{action}") {
                (action(self.a), 8)
            } else {
                (rest[..1].to_string(), 1)
            };
            out.push_str(&text);
            rest = &rest[used..];
        }
        out.push_str(rest);
        out
    }
}

/// The all-zero value of a storage type (what an unused list slot holds).
pub trait Zero: Copy {
    const ZERO: Self;
}

impl Zero for bool {
    const ZERO: bool = false;
}
impl Zero for i8 {
    const ZERO: i8 = 0;
}
impl Zero for i16 {
    const ZERO: i16 = 0;
}
impl Zero for i32 {
    const ZERO: i32 = 0;
}
impl Zero for u32 {
    const ZERO: u32 = 0;
}
impl Zero for f32 {
    const ZERO: f32 = 0.0;
}
impl<T: Zero, const N: usize> Zero for [T; N] {
    const ZERO: [T; N] = [T::ZERO; N];
}

/// Zeroes the slots of every list inside a value at or past the list's length (`VecEnv.set_state`
/// takes them from the caller; equal lists must have equal bytes: the derived `PartialEq` and
/// `contains` compare them, an observation shows them).
pub trait Tidy {
    #[inline]
    fn tidy(&mut self) {}
}

impl Tidy for bool {}
impl Tidy for i8 {}
impl Tidy for i16 {}
impl Tidy for i32 {}
impl Tidy for u32 {}
impl Tidy for f32 {}
impl<T: Tidy, const N: usize> Tidy for [T; N] {
    fn tidy(&mut self) {
        for x in self.iter_mut() {
            x.tidy();
        }
    }
}

// ---------------------------------------------------------------- lists

/// `list<T, N>`: capacity `N` inline, `len` live items first, zeros after.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct List<T, const N: usize> {
    pub items: [T; N],
    pub len: u32,
}

impl<T: Zero, const N: usize> Zero for List<T, N> {
    const ZERO: List<T, N> = List { items: [T::ZERO; N], len: 0 };
}

impl<T: Zero + Tidy, const N: usize> Tidy for List<T, N> {
    fn tidy(&mut self) {
        let n = (self.len as usize).min(N);
        for x in self.items[n..].iter_mut() {
            *x = T::ZERO;
        }
        for x in self.items[..n].iter_mut() {
            x.tidy();
        }
    }
}

impl<T: Zero, const N: usize> List<T, N> {
    /// The live items.
    #[inline]
    pub fn live(&self) -> &[T] {
        &self.items[..self.len as usize]
    }

    /// The slot of item `i`, or a fault when `i` is past the length.
    #[inline]
    pub fn slot(&self, i: i32, site: u16) -> Result<usize, Fault> {
        if i < 0 || i as u32 >= self.len {
            return Err(Fault::at(site, i, self.len as i32));
        }
        Ok(i as usize)
    }

    /// Item `i` (a copy), or a fault when `i` is past the length.
    #[inline]
    pub fn get(&self, i: i32, site: u16) -> Result<T, Fault> {
        let k = self.slot(i, site)?;
        Ok(self.items[k])
    }

    #[inline]
    pub fn push(&mut self, x: T, site: u16) -> Result<(), Fault> {
        if self.len as usize >= N {
            return Err(Fault::at(site, self.len as i32, N as i32));
        }
        self.push_unchecked(x);
        Ok(())
    }

    pub fn insert(&mut self, i: i32, x: T, site: u16) -> Result<(), Fault> {
        if self.len as usize >= N || i < 0 || i as u32 > self.len {
            return Err(Fault::at(site, i, self.len as i32));
        }
        self.insert_unchecked(i as usize, x);
        Ok(())
    }

    pub fn remove_at(&mut self, i: i32, site: u16) -> Result<(), Fault> {
        let i = self.slot(i, site)?;
        self.remove_at_unchecked(i);
        Ok(())
    }

    /// `draw()`: remove and return the first item.
    pub fn take_front(&mut self, site: u16) -> Result<T, Fault> {
        if self.len == 0 {
            return Err(Fault::at(site, 0, 0));
        }
        Ok(self.take_front_unchecked())
    }

    /// `pop()`: remove and return the last item.
    #[inline]
    pub fn take_back(&mut self, site: u16) -> Result<T, Fault> {
        if self.len == 0 {
            return Err(Fault::at(site, 0, 0));
        }
        Ok(self.take_back_unchecked())
    }

    // The `_unchecked` forms run where an explicit check came first (the pass `lower_lists`
    // puts a `Check` before the operation): called on a full or empty list they panic at
    // Rust's bounds check (a compiler bug, never undefined behaviour).

    #[inline]
    pub fn push_unchecked(&mut self, x: T) {
        self.items[self.len as usize] = x;
        self.len += 1;
    }

    pub fn insert_unchecked(&mut self, i: usize, x: T) {
        let n = self.len as usize;
        self.items.copy_within(i..n, i + 1);
        self.items[i] = x;
        self.len += 1;
    }

    pub fn remove_at_unchecked(&mut self, i: usize) {
        let n = self.len as usize;
        self.items.copy_within(i + 1..n, i);
        self.items[n - 1] = T::ZERO;
        self.len -= 1;
    }

    pub fn take_front_unchecked(&mut self) -> T {
        let x = self.items[0];
        let n = self.len as usize;
        self.items.copy_within(1..n, 0);
        self.items[n - 1] = T::ZERO;
        self.len -= 1;
        x
    }

    #[inline]
    pub fn take_back_unchecked(&mut self) -> T {
        let n = self.len as usize;
        let x = self.items[n - 1];
        self.items[n - 1] = T::ZERO;
        self.len -= 1;
        x
    }

    #[inline]
    pub fn clear(&mut self) {
        for x in self.items[..self.len as usize].iter_mut() {
            *x = T::ZERO;
        }
        self.len = 0;
    }

    /// Fisher-Yates as envc.compiler.rng.shuffle_swaps: `len - 1` draws from `counter`.
    pub fn shuffle(&mut self, key: u32, counter: &mut u32) {
        let n = self.len as usize;
        let mut c = *counter;
        for i in (1..n).rev() {
            let j = (bits(key, c) % (i as u32 + 1)) as usize;
            self.items.swap(i, j);
            c = c.wrapping_add(1);
        }
        *counter = counter.wrapping_add(n.saturating_sub(1) as u32);
    }
}

// ---------------------------------------------------------------- RNG (envc.compiler.rng)

#[inline]
pub fn fmix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x85EB_CA6B);
    x ^= x >> 13;
    x = x.wrapping_mul(0xC2B2_AE35);
    x ^= x >> 16;
    x
}

/// The RNG key of an environment created with `seed` (an integer mod 2^32).
#[inline]
pub fn seed_key(seed: u32) -> u32 {
    fmix32(seed ^ 0x5EED_5EED)
}

/// The 32 random bits of draw number `counter` under `key`.
#[inline]
pub fn bits(key: u32, counter: u32) -> u32 {
    fmix32(fmix32(key.wrapping_add(counter.wrapping_mul(0x9E37_79B9))) ^ key)
}

/// One draw in `lo..=hi`; advances `counter`.
#[inline]
pub fn randint(key: u32, counter: &mut u32, lo: i32, hi: i32, site: u16) -> Result<i32, Fault> {
    if lo > hi {
        return Err(Fault::at(site, lo, hi));
    }
    let n = (hi as i64 - lo as i64 + 1) as u64;
    let r = bits(key, *counter) as u64 % n;
    *counter = counter.wrapping_add(1);
    Ok((lo as i64 + r as i64) as i32)
}

// ---------------------------------------------------------------- arithmetic

/// Floor division (Python's `//`); the checker excludes a zero divisor.
#[inline]
pub fn fdiv(a: i32, b: i32) -> i32 {
    let q = a / b;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

/// Floor modulo (Python's `%`): the result takes the divisor's sign.
#[inline]
pub fn fmod(a: i32, b: i32) -> i32 {
    // (`i32::MIN % -1` is 0, which Rust's `%` panics on as an overflow: a fresh spec)
    let r = a.wrapping_rem(b);
    if r != 0 && ((r < 0) != (b < 0)) {
        r + b
    } else {
        r
    }
}

#[inline]
pub fn imin(a: i32, b: i32) -> i32 {
    if b < a {
        b
    } else {
        a
    }
}

#[inline]
pub fn imax(a: i32, b: i32) -> i32 {
    if b > a {
        b
    } else {
        a
    }
}

/// `clamp(x, lo, hi)` = `min(max(x, lo), hi)`.
#[inline]
pub fn iclamp(x: i32, lo: i32, hi: i32) -> i32 {
    imin(imax(x, lo), hi)
}

/// Python's `min(a, b)` on float32: `b` only when `b < a` (NaN and -0.0 as Python).
#[inline]
pub fn fmin(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

/// Python's `max(a, b)` on float32: `b` only when `b > a`.
#[inline]
pub fn fmax(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

#[inline]
pub fn fclamp(x: f32, lo: f32, hi: f32) -> f32 {
    fmin(fmax(x, lo), hi)
}
