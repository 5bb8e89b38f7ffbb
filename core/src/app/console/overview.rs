//! The console's overview (`GET /admin`): how many installations are in each state, and small
//! server-rendered SVG charts (no script, no build step) of installs, events and failures per
//! day and the time from install to approval.

use super::views::{nav, STATES};
use super::{page, sign_in_page};
use crate::app::pages::esc;
use crate::app::Head;
use crate::config::Config;
use crate::http::Reply;
use crate::lifecycle::Ports;
use crate::ports::{Clock, Log};
use crate::store::console::DayCount;

/// Days the charts cover.
pub const DAYS: i64 = 14;

/// The distinct keys, in order. Kept sorted as they are inserted: a slice sort is code of its
/// own in the wasm for each type it sorts, and these are a handful.
fn sorted_keys(counts: &[DayCount]) -> Vec<&str> {
    let mut keys: Vec<&str> = Vec::new();
    for c in counts {
        if let Err(at) = keys.binary_search(&c.key.as_str()) {
            keys.insert(at, &c.key);
        }
    }
    keys
}

/// Milliseconds as seconds with one decimal, rounded half up (integer arithmetic: formatting a
/// float would carry the float printer into the wasm).
fn seconds(ms: u64) -> String {
    let tenths = (ms + 50) / 100;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// A bar chart of one value per day, stacked by key, as inline SVG with a text alternative.
pub fn day_chart(title: &str, id: &str, counts: &[DayCount], today: i64) -> String {
    let first = today - DAYS + 1;
    // Each day of the window: its keys in name order with their counts. (Vectors rather than
    // maps: two B-tree maps cost about 2 KB of the wasm's gzip.)
    let mut by_day: Vec<Vec<(&str, u64)>> = vec![Vec::new(); DAYS as usize];
    for c in counts.iter().filter(|c| c.day >= first && c.day <= today) {
        let day = &mut by_day[(c.day - first) as usize];
        match day.binary_search_by(|(k, _)| (*k).cmp(c.key.as_str())) {
            Ok(at) => day[at].1 += c.n,
            Err(at) => day.insert(at, (&c.key, c.n)),
        }
    }
    let keys = sorted_keys(counts);
    let day_total = |m: &Vec<(&str, u64)>| m.iter().map(|(_, n)| n).sum::<u64>();
    let max = by_day.iter().map(day_total).max().unwrap_or(0).max(1);
    const PALETTE: [&str; 6] = [
        "#5a2ca0", "#0b6b3a", "#8a4b00", "#a1262b", "#1a73e8", "#4a5360",
    ];
    let (w, h, bar) = (DAYS as u64 * 20, 80u64, 14u64);
    let mut bars = String::new();
    for (i, m) in by_day.iter().enumerate() {
        let mut y = h;
        for (k, n) in m {
            let ki = keys.iter().position(|x| x == k).unwrap_or(0);
            let height = (n * h / max).max(1);
            y -= height.min(y);
            bars.push_str(&format!(
                "<rect x=\"{}\" y=\"{y}\" width=\"{bar}\" height=\"{height}\" fill=\"{}\"><title>{}: {n}</title></rect>",
                i as u64 * 20 + 3,
                PALETTE[ki % PALETTE.len()],
                esc(k)
            ));
        }
    }
    let total: u64 = by_day.iter().map(day_total).sum();
    let legend: String = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            format!(
                "<span class=\"legend\"><svg width=\"10\" height=\"10\" aria-hidden=\"true\">\
                 <rect width=\"10\" height=\"10\" fill=\"{}\"/></svg> {}</span> ",
                PALETTE[i % PALETTE.len()],
                esc(k)
            )
        })
        .collect();
    format!(
        "<figure class=\"card chart\" id=\"{id}\"><figcaption><h2>{title}</h2>\
         <span class=\"muted\">{total} in the last {DAYS} days (max {max} a day)</span></figcaption>\
         <svg role=\"img\" aria-label=\"{title}: {total} in the last {DAYS} days\" viewBox=\"0 0 {w} {h}\" \
         width=\"{w}\" height=\"{h}\">{bars}</svg><p>{legend}</p></figure>",
        title = esc(title),
    )
}

/// `GET /admin`.
pub async fn overview<P: Ports>(p: &P, config: &Config, head: &Head) -> Reply {
    let op = match super::operator(p, head).await {
        Ok(Some(op)) => op,
        Ok(None) => return sign_in_page(config, 401, None),
        Err(e) => {
            p.log().error("console_read_failed", &e.0);
            return page(
                config,
                500,
                "Error",
                "<p>Something went wrong; try again.</p>".into(),
            );
        }
    };
    let now = p.clock().now_ms();
    let since = now.saturating_sub(DAYS as u64 * 86_400_000);
    let store = p.store();
    let read = async {
        Ok::<_, crate::ports::PortError>((
            store.console_counts().await?,
            store.installs_per_day(since).await?,
            store.events_per_day(since).await?,
            store.failures_per_day(since).await?,
            store.approval_times(since).await?,
        ))
    };
    let (all, installs, events, failures, approvals) = match read.await {
        Ok(r) => r,
        Err(e) => {
            p.log().error("console_read_failed", &e.0);
            return page(
                config,
                500,
                "Error",
                "<p>Something went wrong; try again.</p>".into(),
            );
        }
    };
    let count_of = |state: &str| all.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
    let tiles: String = STATES
        .iter()
        .map(|s| {
            format!(
                "<a class=\"card tile\" href=\"/admin/console/installations?state={q}\">\
                 <span class=\"n\">{n}</span> {label}</a>",
                q = esc(&s.replace(' ', "+")),
                n = count_of(s),
                label = esc(s),
            )
        })
        .collect();
    // `approvals` comes sorted, shortest first.
    let approval_text = if approvals.is_empty() {
        "no approvals in the last 14 days".to_owned()
    } else {
        let at = |q: usize| approvals[(approvals.len() - 1) * q / 100];
        format!(
            "{} approvals; median {} s, 90th percentile {} s, slowest {} s",
            approvals.len(),
            seconds(at(50)),
            seconds(at(90)),
            seconds(at(100))
        )
    };
    let today = (now / 86_400_000) as i64;
    let flash = head
        .query
        .iter()
        .find(|(k, _)| k == "done")
        .map_or_else(String::new, |(_, d)| {
            format!(
                "<p class=\"notice\" role=\"status\" id=\"flash\">Done: {}</p>",
                esc(d)
            )
        });
    let main = format!(
        "{nav}{flash}<h1>Overview</h1><div class=\"tiles\" id=\"states\">{tiles}</div>\
         <div class=\"cards\">{c1}{c2}{c3}</div>\
         <section class=\"card\" id=\"approval-time\"><h2>Time to approval</h2><p>{approval_text}</p></section>\
         <section class=\"card\"><h2>Secrets</h2><p>Re-seal every stored secret under the first key of \
         <code>SEALING_KEY</code> (after adding a new key), then drop the old key once \
         <code>GET /admin/sealing</code> shows it seals nothing.</p>\
         <form method=\"post\" action=\"/admin/console/reseal\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" id=\"reseal\">Re-seal all secrets</button></form></section>",
        nav = nav(&op),
        c1 = day_chart("Installs per day", "chart-installs", &installs, today),
        c2 = day_chart("Events per day", "chart-events", &events, today),
        c3 = day_chart("Failures per day", "chart-failures", &failures, today),
        csrf = esc(&op.csrf),
    );
    page(config, 200, "Overview", main)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_times_read_in_seconds_with_one_decimal_rounded_half_up() {
        assert_eq!(seconds(0), "0.0");
        assert_eq!(seconds(49), "0.0");
        assert_eq!(seconds(50), "0.1");
        assert_eq!(seconds(1_250), "1.3");
        assert_eq!(seconds(61_949), "61.9");
        assert_eq!(seconds(61_950), "62.0");
    }

    #[test]
    fn a_day_chart_stacks_keys_and_says_its_total_in_words() {
        let counts = vec![
            DayCount {
                day: 100,
                key: "active".into(),
                n: 3,
            },
            DayCount {
                day: 100,
                key: "failed".into(),
                n: 1,
            },
            DayCount {
                day: 99,
                key: "active".into(),
                n: 2,
            },
            DayCount {
                day: 50,
                key: "active".into(),
                n: 9,
            },
        ];
        let svg = day_chart("Installs <per> day", "c", &counts, 100);
        assert!(svg.contains("6 in the last 14 days"), "{svg}");
        assert!(svg.contains("(max 4 a day)"));
        assert_eq!(
            svg.matches("<title>").count(),
            3,
            "three bars: day 50 is outside the window"
        );
        assert!(svg.contains("Installs &lt;per&gt; day"));
    }

    #[test]
    fn a_days_counts_of_one_key_add_up_and_its_keys_stack_in_name_order() {
        let count = |day, key: &str, n| DayCount {
            day,
            key: key.into(),
            n,
        };
        let counts = vec![
            count(100, "zeta", 1),
            count(100, "alpha", 2),
            count(87, "mid", 4),
            count(100, "alpha", 3),
        ];
        let svg = day_chart("Events", "c", &counts, 100);
        assert!(
            svg.contains("10 in the last 14 days (max 6 a day)"),
            "{svg}"
        );
        let alpha = svg.find("<title>alpha: 5</title>").expect("alpha summed");
        let zeta = svg.find("<title>zeta: 1</title>").expect("zeta");
        assert!(alpha < zeta, "{svg}");
        // Day 87 is the window's first day: its bar is the first one.
        assert!(svg.find("<title>mid: 4</title>").unwrap() < alpha);
        assert!(svg.contains("<rect x=\"3\" y=\"27\""), "{svg}");
    }
}
