//! The in-process transport: every member lives in this process, so every
//! collective is a copy between the members' memory.

use std::ops::Range;

use super::collectives::Transport;
use crate::error::Result;

/// All `size` members held here.
pub(crate) struct LocalTransport {
    pub size: usize,
}

impl Transport for LocalTransport {
    fn size(&self) -> usize {
        self.size
    }

    fn held(&self) -> Range<usize> {
        0..self.size
    }

    fn max_bytes(&self) -> Option<u64> {
        None
    }

    fn all_gather_u64(&self, mine: &[&[u64]], count: usize) -> Result<Vec<u64>> {
        let mut out = Vec::with_capacity(self.size * count);
        for m in mine {
            out.extend_from_slice(&m[..count]);
        }
        Ok(out)
    }

    fn all_gather_bytes(&self, mine: &[&[u8]], counts: &[usize], out: &mut [u8]) -> Result<()> {
        let mut at = 0;
        for (m, &c) in mine.iter().zip(counts) {
            out[at..at + c].copy_from_slice(&m[..c]);
            at += c;
        }
        Ok(())
    }

    fn all_to_all_bytes(
        &self,
        send: &[&[u8]],
        counts: &[Vec<usize>],
        recv: &mut [&mut [u8]],
    ) -> Result<()> {
        let p = self.size;
        // Where each source's block for each destination starts in its send buffer.
        let starts: Vec<Vec<usize>> = counts
            .iter()
            .map(|row| {
                row.iter()
                    .scan(0, |acc, &c| {
                        let s = *acc;
                        *acc += c;
                        Some(s)
                    })
                    .collect()
            })
            .collect();
        for (d, out) in recv.iter_mut().enumerate() {
            let mut at = 0;
            for s in 0..p {
                let c = counts[s][d];
                let from = starts[s][d];
                out[at..at + c].copy_from_slice(&send[s][from..from + c]);
                at += c;
            }
        }
        Ok(())
    }

    fn all_reduce_sum_u32(&self, mine: &[&[u32]], len: usize) -> Result<Vec<u32>> {
        let mut out = vec![0u32; len];
        for m in mine {
            for (o, &v) in out.iter_mut().zip(m.iter()) {
                *o = o.wrapping_add(v);
            }
        }
        Ok(out)
    }
}
