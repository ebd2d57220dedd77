"""Every number the study reports, computed in one place from typed records.

    records.py    the metrics files as typed, versioned records (codec.py: write_record / read_record)
    quality.py    data quality of an arm's samples: coverage, diversity, FPR, guessing baseline (stage filter)
    accuracy.py   pass@k, majority vote, greedy accuracy, by difficulty (stages evaluate, bootstrap, finetune)
    intervals.py  Wilson and Student-t intervals, the verdict an interval gives
    study.py      every quantity over worlds, the WC − SE comparisons and the calibration (stage report)
"""
