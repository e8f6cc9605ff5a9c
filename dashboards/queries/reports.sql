-- Every saved report, newest run first, with its run's finish time (for ordering and labels).
SELECT rep.report_id, rep.run_id, rep.kind, rep.dataset, rep.html_path, rep.json_path,
       rep.key_figures, rep.passed, rep.reason, rep.created_at, rep.evidently_project,
       r.finished_at AS run_finished_at
FROM monitoring.reports rep
LEFT JOIN recs.runs r USING (run_id)
ORDER BY r.finished_at DESC NULLS LAST, rep.run_id DESC, rep.kind, rep.dataset
