-- Select the Session Manager records of a date range from Athena's CloudTrail table and write
-- them as JSON lines that `trailreplay replay` reads directly (it recognises the table's rows).
--
-- The table: the one defined in the Amazon Athena User Guide, "Create the table for CloudTrail
-- logs in Athena using partition projection" (partition column `timestamp`, 'yyyy/MM/dd').
-- Start one day before the window you replay: a Terminate/ResumeSession needs the StartSession of
-- its session (sessions last at most 24 hours), and replay with --since/--until filters events.
UNLOAD (
    SELECT *
    FROM cloudtrail_logs_pp
    WHERE "timestamp" BETWEEN '2026/09/30' AND '2026/10/31'
      AND ((eventsource = 'ssm.amazonaws.com'
            AND eventname IN ('StartSession', 'TerminateSession', 'ResumeSession',
                              'DescribeSessions', 'GetConnectionStatus'))
           -- The calls that change resource tags (tags as they were at each session).
           OR (errorcode IS NULL
               AND ((eventsource = 'ec2.amazonaws.com'
                     AND eventname IN ('CreateTags', 'DeleteTags', 'RunInstances'))
                    OR (eventsource = 'ssm.amazonaws.com'
                        AND eventname IN ('AddTagsToResource', 'RemoveTagsFromResource')))))
)
TO 's3://amzn-s3-demo-bucket/trailreplay/2026-10/'
WITH (format = 'JSON', compression = 'GZIP');
