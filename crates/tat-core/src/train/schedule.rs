//! Learning rate: linear warmup, then cosine decay to `learning_rate * min_lr_ratio`; a
//! `[[training.restart]]` starts the same shape again from its step with its own peak.

use crate::config::LrRestart;

/// One stretch of the schedule: from `start`, warm up over `warmup_steps` to `peak`, then decay
/// by a cosine to `peak * min_ratio` at `end`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cycle {
    start: usize,
    end: usize,
    peak: f64,
    warmup_steps: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LrSchedule {
    cycles: Vec<Cycle>,
    min_ratio: f64,
}

impl LrSchedule {
    /// The schedule of a run of `total_steps` optimizer steps. The first cycle spans the whole
    /// run as if there were no restarts, so steps before a restart keep the rates they had
    /// without it (a restart added to a config changes nothing before its step); each restart
    /// replaces the schedule from its step to the next restart or the end of the run.
    pub fn new(peak: f64, warmup_steps: usize, total_steps: usize, min_ratio: f64, restarts: &[LrRestart]) -> Self {
        let mut cycles = vec![Cycle { start: 0, end: total_steps, peak, warmup_steps }];
        for (i, r) in restarts.iter().enumerate() {
            let end = restarts.get(i + 1).map_or(total_steps, |next| next.at_step);
            cycles.push(Cycle { start: r.at_step, end, peak: r.learning_rate, warmup_steps: r.warmup_steps });
        }
        Self { cycles, min_ratio }
    }

    /// Learning rate for optimizer step `step` (0-based).
    pub fn at(&self, step: usize) -> f64 {
        let c = self.cycles.iter().rev().find(|c| c.start <= step).unwrap_or(&self.cycles[0]);
        let local = step - c.start;
        if local < c.warmup_steps {
            return c.peak * (local + 1) as f64 / c.warmup_steps as f64;
        }
        let decay_steps = c.end.saturating_sub(c.start + c.warmup_steps).max(1);
        let progress = ((local - c.warmup_steps) as f64 / decay_steps as f64).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        c.peak * (self.min_ratio + (1.0 - self.min_ratio) * cosine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_floor() {
        let s = LrSchedule::new(1.0, 10, 110, 0.1, &[]);
        assert!((s.at(0) - 0.1).abs() < 1e-12);
        assert!((s.at(9) - 1.0).abs() < 1e-12);
        assert!((s.at(10) - 1.0).abs() < 1e-12);
        assert!((s.at(60) - 0.55).abs() < 1e-9);
        assert!((s.at(110) - 0.1).abs() < 1e-12);
        assert!((s.at(500) - 0.1).abs() < 1e-12);
        assert!(s.at(30) > s.at(40));
    }

    #[test]
    fn a_restart_changes_only_the_steps_from_its_own() {
        let plain = LrSchedule::new(1.0, 10, 110, 0.1, &[]);
        let restart = LrRestart { at_step: 60, learning_rate: 0.5, warmup_steps: 5 };
        let s = LrSchedule::new(1.0, 10, 110, 0.1, &[restart]);
        for step in 0..60 {
            assert_eq!(s.at(step), plain.at(step), "step {step}");
        }
        // Warmup from the restart's step: 0.1, 0.2, ... of its peak, then the peak.
        assert!((s.at(60) - 0.1).abs() < 1e-12);
        assert!((s.at(64) - 0.5).abs() < 1e-12);
        assert!((s.at(65) - 0.5).abs() < 1e-12);
        // Step 22 of its 45 decay steps follows the cosine between its peak and its floor; the floor
        // (0.1 of its peak) at the end.
        assert!(
            (s.at(65 + 45 / 2) - 0.5 * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * 22.0 / 45.0).cos()))).abs()
                < 1e-12
        );
        assert!((s.at(110) - 0.05).abs() < 1e-12);
        assert!((s.at(200) - 0.05).abs() < 1e-12);
    }

    #[test]
    fn each_restart_decays_until_the_next() {
        let restarts = [
            LrRestart { at_step: 100, learning_rate: 1.0, warmup_steps: 0 },
            LrRestart { at_step: 200, learning_rate: 2.0, warmup_steps: 0 },
        ];
        let s = LrSchedule::new(1.0, 0, 300, 0.0, &restarts);
        assert!((s.at(100) - 1.0).abs() < 1e-12);
        assert!(s.at(199) < 0.01, "the first restart reaches its floor at the second: {}", s.at(199));
        assert!((s.at(200) - 2.0).abs() < 1e-12);
        assert!(s.at(299) < 0.01);
    }
}
