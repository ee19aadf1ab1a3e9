//! Planning a reminder run, in memory: which of 50 zones' keys are due in a slot, and one
//! paced job per person out of 10,000 pending entries (people with several entries found
//! once). This is the run's own work; its reads are the table's.

use approvals_core::people::HostUserId;
use approvals_core::reminders::{due_keys, plan_run, ReminderKey, Slot, Waiter};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const ZONES: [&str; 50] = [
    "UTC",
    "Europe/London",
    "Europe/Lisbon",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Warsaw",
    "Europe/Kyiv",
    "Europe/Athens",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Yangon",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Manila",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Perth",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Phoenix",
    "America/Chicago",
    "America/Mexico_City",
    "America/New_York",
    "America/Toronto",
    "America/Bogota",
    "America/Lima",
    "America/Caracas",
    "America/Halifax",
    "America/St_Johns",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "Atlantic/Azores",
];

fn bench_planning(c: &mut Criterion) {
    let keys: Vec<ReminderKey> = ZONES
        .iter()
        .map(|zone| ReminderKey::parse(&format!("09:00@{zone}")).expect("a known zone"))
        .collect();
    // Wednesday 2026-11-25 09:00 in Kolkata, St John's and a few more at once.
    let slot = Slot::from_scheduled_time("2026-11-25T03:30:00Z").unwrap();
    // 10,000 entries of 4,000 people in 20 tenants, spread over the 50 keys.
    let found: Vec<(ReminderKey, Waiter)> = (0..10_000)
        .map(|n| {
            let waiter = Waiter {
                tenant_id: format!("tenant-{}", n % 20),
                user_id: HostUserId::try_from(format!("u-{}", n % 4_000)).unwrap(),
            };
            (keys[n % keys.len()].clone(), waiter)
        })
        .collect();
    let mut group = c.benchmark_group("reminders");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("due_keys_of_50_zones", |b| {
        b.iter(|| due_keys(std::hint::black_box(&keys), slot))
    });
    group.throughput(Throughput::Elements(found.len() as u64));
    group.bench_function("plan_run_10k_entries", |b| {
        b.iter_batched(
            || found.clone(),
            |found| plan_run(slot, found, 5),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_planning);
criterion_main!(benches);
