//! Fallible host allocations, for every buffer whose size a user decides.
//!
//! `vec![x; n]` aborts the process when the allocator refuses and panics on a
//! capacity overflow; these helpers return [`Error::TooLarge`] (the size can
//! never be allocated) or [`Error::OutOfMemory`] (the allocator refused now).

use crate::error::{Error, Result};

/// An empty vector with room for exactly `n` elements.
///
/// # Errors
/// [`Error::TooLarge`] past `isize::MAX` bytes; [`Error::OutOfMemory`] when the
/// allocator refuses.
pub(crate) fn try_with_capacity<T>(op: &'static str, n: usize) -> Result<Vec<T>> {
    let bytes = n as u128 * std::mem::size_of::<T>() as u128;
    if bytes > isize::MAX as u128 {
        return Err(Error::TooLarge {
            bytes: bytes.min(u64::MAX as u128) as u64,
            max: isize::MAX as u64,
        });
    }
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        op,
        message: format!("the host could not allocate {bytes} bytes"),
    })?;
    Ok(v)
}

/// `vec![value; n]`, fallibly.
///
/// # Errors
/// As [`try_with_capacity`].
pub(crate) fn try_filled<T: Clone>(op: &'static str, n: usize, value: T) -> Result<Vec<T>> {
    let mut v = try_with_capacity(op, n)?;
    v.resize(n, value);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn impossible_sizes_are_errors_not_aborts() {
        let e = try_filled("t", usize::MAX / 2, 0u32).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooLarge);
        // 4 TiB: refused by the allocator on any machine this runs on.
        let e = try_filled("t", 1usize << 40, 0f32).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::OutOfMemory | ErrorKind::TooLarge),
            "{e}"
        );
        assert_eq!(try_filled("t", 3, 7u8).unwrap(), [7, 7, 7]);
        // The pooled path that `upload` takes is fallible too.
        let e = crate::host_pool::try_take_empty::<u32>("t", usize::MAX / 2).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooLarge);
    }
}
