from shared.training.stats import scenario_stats


def test_stats_over_a_few_sessions():
    sessions = [
        {"status": "completed", "score": 80, "missed_keywords": ["refund", "order number"]},
        {"status": "completed", "score": 60, "missed_keywords": ["refund"]},
        {"status": "active", "score": None, "missed_keywords": []},
        {"status": "completed", "score": 71, "missed_keywords": ["days", "refund"]},
    ]

    assert scenario_stats(sessions) == {
        "sessions": 4,
        "completed": 3,
        "completion_rate": 0.75,
        "mean_score": 70.3,
        "median_score": 71,
        "most_missed_keywords": [
            {"keyword": "refund", "count": 3},
            {"keyword": "days", "count": 1},
            {"keyword": "order number", "count": 1},
        ],
    }


def test_no_sessions_gives_none_for_rates_and_scores():
    assert scenario_stats([]) == {
        "sessions": 0,
        "completed": 0,
        "completion_rate": None,
        "mean_score": None,
        "median_score": None,
        "most_missed_keywords": [],
    }


def test_sessions_without_scores_give_none_for_mean_and_median():
    stats = scenario_stats([{"status": "abandoned", "score": None, "missed_keywords": []}])

    assert stats["completion_rate"] == 0.0
    assert stats["mean_score"] is None
    assert stats["median_score"] is None


def test_median_of_an_even_count_is_the_midpoint():
    sessions = [{"status": "completed", "score": score, "missed_keywords": []} for score in (40, 50, 90, 100)]

    assert scenario_stats(sessions)["median_score"] == 70


def test_a_keyword_counts_once_per_session():
    sessions = [
        {"status": "completed", "score": 10, "missed_keywords": ["refund", "refund", "refund"]},
        {"status": "completed", "score": 10, "missed_keywords": ["days"]},
        {"status": "completed", "score": 10, "missed_keywords": ["days"]},
    ]

    assert scenario_stats(sessions)["most_missed_keywords"] == [
        {"keyword": "days", "count": 2},
        {"keyword": "refund", "count": 1},
    ]


def test_top_missed_limits_the_list():
    sessions = [{"status": "completed", "score": 50, "missed_keywords": ["a", "b", "c"]}]

    assert [entry["keyword"] for entry in scenario_stats(sessions, top_missed=2)["most_missed_keywords"]] == ["a", "b"]
    assert scenario_stats(sessions, top_missed=0)["most_missed_keywords"] == []
