"""Tests of the capacity model's arithmetic (python3 benches/test_capacity.py): synthetic costs,
so each test knows which component must saturate first and at what figure."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capacity  # noqa: E402


def costs(**over):
    c = {
        "join": {"app": {"server_us": 100.0, "redis_us": 25.0, "mariadb_us": 0.0}},
        "seat_click": {"server_us": 1000.0, "redis_us": 50.0, "mariadb_us": 250.0},
        "admission": {"server_us": 0.0, "redis_us": 0.0, "mariadb_us": 0.0},
        "waiting_app_admitting": {"server_us_per_s": 20.0, "redis_us_per_s": 2.0},
        "instance_idle": {},
        "memory": {"server_kb_per_connection": 32.0, "server_base_mib": 0.0,
                   "redis_bytes_per_waiting": 500.0},
        "limits": {"open_files_per_process": 20000, "file_reserve": 256},
    }
    c.update(over)
    return c


def cap(c, k, cores, redis=1.0, mysql=4.0, ram=4.0, files=None, admissions=0.0):
    return capacity.capacity(c, k, cores, redis, mysql, ram, 8.0, admissions, "app", files)


class Model(unittest.TestCase):
    def test_the_servers_saturate_first_until_redis_one_core_caps_the_joins(self):
        self.assertEqual(cap(costs(), 1, 1)["joins"], (10_000.0, "server"))
        self.assertEqual(cap(costs(), 8, 1)["joins"], (40_000.0, "redis"))

    def test_redis_cores_beyond_one_add_nothing(self):
        self.assertEqual(cap(costs(), 8, 1, redis=4.0)["joins"], (40_000.0, "redis"))

    def test_the_open_file_limit_caps_the_people_waiting_per_instance(self):
        self.assertEqual(cap(costs(), 3, 4)["waiting"], (3 * 19_744, "open files"))
        # Raised, the cores decide (1 core: 1,000,000 / 20 µs per person per second).
        self.assertEqual(cap(costs(), 1, 1, files=1_000_000)["waiting"], (50_000.0, "server"))

    def test_admissions_take_their_share_before_the_waiting(self):
        c = costs(admission={"server_us": 10_000.0, "redis_us": 0.0, "mariadb_us": 0.0})
        waiting, who = cap(c, 1, 1, files=1_000_000, admissions=50)["waiting"]
        self.assertEqual(who, "server")
        self.assertAlmostEqual(waiting, (1e6 - 50 * 10_000) / 20)

    def test_mariadb_caps_the_seat_clicks_of_a_large_fleet(self):
        self.assertEqual(cap(costs(), 1, 1)["clicks"], (1_000.0, "server"))
        self.assertEqual(cap(costs(), 32, 1, mysql=2.0)["clicks"], (8_000.0, "mariadb"))

    def test_fit_recovers_two_costs(self):
        a, b = capacity._fit([(50, 1000, 50 * 4000 + 1000 * 15), (50, 10000, 50 * 4000 + 10000 * 15)])
        self.assertAlmostEqual(a, 4000)
        self.assertAlmostEqual(b, 15)


if __name__ == "__main__":
    unittest.main()
