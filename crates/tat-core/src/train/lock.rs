//! One run at a time in a run folder: training holds an exclusive lock on `RUN_DIR/.lock` (an
//! operating-system file lock, which ends with the process however it ends, `kill -9` included)
//! and writes who holds it into the file, so a second run on the folder is refused with a message
//! naming the first. The file stays when the run ends; only the lock on it goes.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Result, TatError};

/// The lock file in a run folder.
pub const LOCK_FILE: &str = ".lock";

/// Held while a run writes its folder; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Creates `run_dir` if needed and locks it, or says who holds it.
    pub fn acquire(run_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(run_dir).map_err(|e| TatError::io(run_dir, e))?;
        let path = run_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| TatError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "a run that has not yet said who it is" } else { holder };
                return Err(TatError::Checkpoint(format!(
                    "{}: another run is writing this folder: {holder}. Fix: wait for it to end (or stop it), \
                     or train into another folder with --out DIR.",
                    run_dir.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(TatError::io(&path, e)),
        }
        let me = format!("process {} on {}, since {}\n", std::process::id(), host_name(), utc_now());
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(me.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(|e| TatError::io(&path, e))?;
        Ok(Self { _file: file })
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "this machine".to_string())
}

/// The time now as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_run_folder_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let first = RunLock::acquire(&run).unwrap();
        let err = RunLock::acquire(&run).unwrap_err();
        let message = err.to_string();
        assert_eq!(err.exit_code(), crate::error::exit_code::CHECKPOINT);
        assert!(message.contains("another run is writing this folder"), "{message}");
        assert!(message.contains(&format!("process {}", std::process::id())), "{message}");
        assert!(message.contains("--out DIR"), "{message}");
        drop(first);
        let again = RunLock::acquire(&run).unwrap();
        drop(again);
        assert!(run.join(LOCK_FILE).is_file());
    }

    #[test]
    fn dates_come_out_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
        assert!(utc_now().ends_with(" UTC"));
    }
}
