# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_zrm_global_optspecs
    string join \n c/config= format= q/quiet v/verbose no-progress h/help V/version
end

function __fish_zrm_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_zrm_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_zrm_using_subcommand
    set -l cmd (__fish_zrm_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c zrm -n "__fish_zrm_needs_command" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_needs_command" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_needs_command" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_needs_command" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_needs_command" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_needs_command" -s V -l version -d 'Print version'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "check" -d 'Check configuration, connection, privileges, binary log settings, tools and repository'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "backup" -d 'Take a backup: full (level 0) or incremental'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "list" -d 'List the backups in the catalog'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "show" -d 'Show one backup\'s manifest'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "restore" -d 'Restore a backup, then replay the archived binary logs to a point in time'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "binlog" -d 'Binary logs: archive, purge, analyze, find'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "checkpoint" -d 'A named, consistent cut across all shards of a cluster'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "verify" -d 'Verify backups: every file read back and checked, or a test restore with --restore'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "purge" -d 'Apply retention: delete expired backups and binary logs'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "pin" -d 'Keep a backup whatever the retention says'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "unpin" -d 'Let retention apply to a pinned backup again'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "replicate" -d 'Copy backups and binary logs to a second repository (disaster recovery)'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "key" -d 'Encryption keys'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "schedule" -d 'Manage crontab entries for scheduled backups'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "report" -d 'Reports: status, method, retention, performance, restore points'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "import-config" -d 'Write the zrm.toml equivalent of ZRM\'s mysql-zrm.conf files'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "import" -d 'Import ZRM\'s backup images into the repository (copied, md5 sums checked)'
complete -c zrm -n "__fish_zrm_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zrm -n "__fish_zrm_using_subcommand check" -l set -d 'The backup set to check' -r
complete -c zrm -n "__fish_zrm_using_subcommand check" -l method -d 'Check as if this method were configured' -r -f -a "logical\t''
mysqldump\t''
lvm\t''
btrfs\t''
ebs\t''"
complete -c zrm -n "__fish_zrm_using_subcommand check" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand check" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand check" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand check" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand check" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand backup" -l set -d 'The backup set' -r
complete -c zrm -n "__fish_zrm_using_subcommand backup" -l cluster -d 'Back up every set of a cluster, in parallel (the cluster\'s `parallel`); with --level 1|auto every shard\'s incremental' -r
complete -c zrm -n "__fish_zrm_using_subcommand backup" -l level -d '0 = full, 1 = incremental (binary logs since the last backup), auto = full if none usable' -r -f -a "0\t''
1\t''
auto\t''"
complete -c zrm -n "__fish_zrm_using_subcommand backup" -l method -d 'Override the set\'s method' -r -f -a "logical\t''
mysqldump\t''
lvm\t''
btrfs\t''
ebs\t''"
complete -c zrm -n "__fish_zrm_using_subcommand backup" -l comment -d 'A note stored in the manifest' -r
complete -c zrm -n "__fish_zrm_using_subcommand backup" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand backup" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand backup" -l coordinated -d 'One consistent cut across the cluster\'s shards: every shard locked at once'
complete -c zrm -n "__fish_zrm_using_subcommand backup" -l dry-run -d 'Print what would be done, change nothing'
complete -c zrm -n "__fish_zrm_using_subcommand backup" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand backup" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand backup" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand backup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand list" -l set -d 'Only this set' -r
complete -c zrm -n "__fish_zrm_using_subcommand list" -l cluster -d 'Only the sets of this cluster' -r
complete -c zrm -n "__fish_zrm_using_subcommand list" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand list" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand list" -l all -d 'Also list interrupted (incomplete) and unreadable backups'
complete -c zrm -n "__fish_zrm_using_subcommand list" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand list" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand list" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand show" -l set -d 'The backup set' -r
complete -c zrm -n "__fish_zrm_using_subcommand show" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand show" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand show" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand show" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand show" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l set -d 'The backup set whose backups are restored' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l cluster -d 'Restore every shard of a cluster, in parallel, each to its own coordinates of one logical point (--until-gsn, --until-checkpoint or --until-time)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l target-map -d 'With --cluster: the target of each shard, shard=TARGET,… (default: the cluster\'s `restore_targets`)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l plan-out -d 'With --cluster: resolve every shard\'s stop point and write one plan per shard into DIR (DIR/CLUSTER.SET.json) instead of restoring; run each with --plan on the shard\'s host' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l plan -d 'Carry out one shard\'s plan written by --plan-out (with this host\'s configuration)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l backup -d 'The backup id (default: the latest full backup)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l target -d 'Where to restore: a set name, mysql://user@host:port, or datadir:/path' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l databases -d 'Restore only these databases (comma-separated)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l tables -d 'Restore only these tables, db.table (comma-separated; logical backups): their schema, their data and the binlog changes to them; nothing else of their databases is touched' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l rename-database -d 'Restore database OLD under the name NEW (repeatable, or comma-separated; logical backups): its tables are created in NEW and its binlog changes applied to NEW, never to OLD' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l until-time -d 'Apply every transaction committed at or before this time (the server\'s zone unless an offset is given)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l until-position -d 'Stop before the transaction that starts at FILE:POS' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l until-gtid -d 'Stop before the transaction with this GTID (MariaDB d-s-n, MySQL uuid:n), or apply exactly a GTID set (MySQL uuid:1-N,…; MariaDB d-s-n,d-s-n for several domains)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l until-gsn -d 'Apply every transaction before the first that writes a global sequence number above N (the cluster\'s `gsn` table)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l until-checkpoint -d 'Stop at a named checkpoint of the set\'s cluster (`zrm checkpoint`)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l resume -d 'Continue an interrupted replay from FILE:POS (the base is not restored again)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l parallel -d 'Connections for a logical load (default: the set\'s `parallel`)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l attach-to -d 'ebs backups: attach the new volume to this instance id' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l device -d 'ebs backups: the device name for --attach-to (default: the source volume\'s)' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l applier -d 'Who applies the binlogs: zrm (its own parallel applier; statements and DDL go through the client) or client (`mysqlbinlog | mysql`, one session)' -r -f -a "zrm\t''
client\t''"
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l replay-lanes -d 'Connections of zrm\'s applier' -r
complete -c zrm -n "__fish_zrm_using_subcommand restore" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l replace -d 'Allow replacing databases that exist on the target (they are dropped first; with --tables, only those tables are)'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l dry-run -d 'Print the plan and change nothing'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l inclusive -d 'Include the transaction at the UNTIL point (--until-position, --until-gtid)'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l no-binlogs -d 'Restore the backup alone, replaying no binary log'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l resume-load -d 'Continue an interrupted load of a logical backup: chunks the target already committed are skipped, then the binlogs are replayed as asked'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l no-defer-indexes -d 'Create secondary indexes with the tables instead of after the data (logical backups)'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l start-server -d 'Snapshot backups into datadir:PATH: start a throwaway server on the rebuilt directory, replay the binary logs into it, and shut it down cleanly'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l log-bin -d 'Write the loaded data and the replayed binlogs to the target\'s binary log (off by default, so a restore does not replicate)'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l skip-gtids -d 'Replay without the source\'s GTIDs (MySQL): the target gives the transactions its own (or none), and zrm\'s applier lets them share commits, which is much faster on a target that would take every source GTID with one commit each'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -f -a "archive" -d 'Copy closed (or with --follow, live) binary logs into the repository'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -f -a "purge" -d 'PURGE BINARY LOGS on the server, never past what is archived and verified'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -f -a "analyze" -d 'The binary log analyzer: events or transactions, filters, summaries'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -f -a "find" -d 'Resolve a recovery point to exact coordinates for `restore --until-position`'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -f -a "zrm-parse" -d '`mysql-zrm --action parse-binlogs`: ZRM\'s table of events'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and not __fish_seen_subcommand_from archive purge analyze find zrm-parse help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from archive" -l set -d 'The backup set whose server\'s binlogs are archived' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from archive" -l interval -d 'With --follow: store a durable segment at least this often (seconds)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from archive" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from archive" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from archive" -l follow -d 'Keep streaming the live binlog (until SIGINT/SIGTERM), reconnecting when needed'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from archive" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from archive" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from archive" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from archive" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from purge" -l set -d 'The backup set whose server\'s binlogs are purged' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from purge" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from purge" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from purge" -l dry-run -d 'Print what would be purged, purge nothing'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from purge" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from purge" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from purge" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from purge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l set -d 'The archived binlogs of a set (from `binlog archive`)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l backup -d 'Only the binlog range of this backup (with --set)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l since -d 'Events at or after this time (UTC unless an offset is given)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l until -d 'Events at or before this time' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l database -d 'Events of this database' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l table -d 'Events of this table (`table` or `db.table`)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l type -d 'Event types (comma-separated, prefixes: query, write_rows, gtid, …)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l grep -d 'Statements matching this regular expression' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l gtid -d 'Events of the transaction with this GTID' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l by -d 'One line per event (default) or per transaction' -r -f -a "event\t''
transaction\t''"
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l summary -d 'DML per table, activity per minute, largest transactions, DDL timeline'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l values -d 'Decode and show the row values of rows events'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from analyze" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -l set -d 'The archived binlogs of a set (from `binlog archive`)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -l backup -d 'Only the binlog range of this backup (with --set)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -l time -d 'The last transaction committed at or before this time (UTC unless an offset is given)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -l gtid -d 'Just before the transaction with this GTID' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -l match -d 'Just before the transaction holding the first statement matching this regex' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -l gsn -d 'Just before the first transaction that writes a global sequence number above N (the cluster\'s `gsn` table and column)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -l cluster -d 'With --gsn: every shard of this cluster (instead of --set)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from find" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from zrm-parse" -l set -d 'The archived binlogs of a set (from `binlog archive`)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from zrm-parse" -l backup -d 'Only the binlog range of this backup (with --set)' -r
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from zrm-parse" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from zrm-parse" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from zrm-parse" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from zrm-parse" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from zrm-parse" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from zrm-parse" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from help" -f -a "archive" -d 'Copy closed (or with --follow, live) binary logs into the repository'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from help" -f -a "purge" -d 'PURGE BINARY LOGS on the server, never past what is archived and verified'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from help" -f -a "analyze" -d 'The binary log analyzer: events or transactions, filters, summaries'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from help" -f -a "find" -d 'Resolve a recovery point to exact coordinates for `restore --until-position`'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from help" -f -a "zrm-parse" -d '`mysql-zrm --action parse-binlogs`: ZRM\'s table of events'
complete -c zrm -n "__fish_zrm_using_subcommand binlog; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zrm -n "__fish_zrm_using_subcommand checkpoint" -l cluster -d 'The cluster' -r
complete -c zrm -n "__fish_zrm_using_subcommand checkpoint" -l name -d 'The checkpoint\'s name (letters, digits, -, _ and .)' -r
complete -c zrm -n "__fish_zrm_using_subcommand checkpoint" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand checkpoint" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand checkpoint" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand checkpoint" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand checkpoint" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand checkpoint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand verify" -l set -d 'The backup set' -r
complete -c zrm -n "__fish_zrm_using_subcommand verify" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand verify" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand verify" -l all -d 'Verify every backup of the set'
complete -c zrm -n "__fish_zrm_using_subcommand verify" -l restore -d 'Also restore into a throwaway server and compare row counts and checksums'
complete -c zrm -n "__fish_zrm_using_subcommand verify" -l binlogs -d 'With --restore: then replay the archived binlogs to the end'
complete -c zrm -n "__fish_zrm_using_subcommand verify" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand verify" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand verify" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand purge" -l set -d 'The set to purge' -r
complete -c zrm -n "__fish_zrm_using_subcommand purge" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand purge" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand purge" -l all -d 'Every set of the configuration'
complete -c zrm -n "__fish_zrm_using_subcommand purge" -l dry-run -d 'Print the plan, delete nothing'
complete -c zrm -n "__fish_zrm_using_subcommand purge" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand purge" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand purge" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand purge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand pin" -l set -d 'The backup set' -r
complete -c zrm -n "__fish_zrm_using_subcommand pin" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand pin" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand pin" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand pin" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand pin" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand pin" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand unpin" -l set -d 'The backup set' -r
complete -c zrm -n "__fish_zrm_using_subcommand unpin" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand unpin" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand unpin" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand unpin" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand unpin" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand unpin" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -l set -d 'The backup set' -r
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -l to -d 'Target repository: s3://bucket/prefix or a directory (default: [repository.replica])' -r
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -l to-region -d 'Region of an s3:// target (default: [repository.replica], then [repository])' -r
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -l to-endpoint -d 'Endpoint of an s3:// target (default: [repository.replica], then [repository])' -r
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -l dry-run -d 'Print what would be copied, copy nothing'
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand replicate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand key; and not __fish_seen_subcommand_from generate help" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand key; and not __fish_seen_subcommand_from generate help" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand key; and not __fish_seen_subcommand_from generate help" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand key; and not __fish_seen_subcommand_from generate help" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand key; and not __fish_seen_subcommand_from generate help" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand key; and not __fish_seen_subcommand_from generate help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand key; and not __fish_seen_subcommand_from generate help" -f -a "generate" -d 'Write a new repository encryption key (mode 0600; never overwrites a file)'
complete -c zrm -n "__fish_zrm_using_subcommand key; and not __fish_seen_subcommand_from generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zrm -n "__fish_zrm_using_subcommand key; and __fish_seen_subcommand_from generate" -l out -d 'Where to write the key, e.g. /etc/zrm/repo.key' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand key; and __fish_seen_subcommand_from generate" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand key; and __fish_seen_subcommand_from generate" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand key; and __fish_seen_subcommand_from generate" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand key; and __fish_seen_subcommand_from generate" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand key; and __fish_seen_subcommand_from generate" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand key; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "generate" -d 'Write a new repository encryption key (mode 0600; never overwrites a file)'
complete -c zrm -n "__fish_zrm_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -f -a "add" -d 'Add a scheduled backup of a set to your crontab (or replace the set\'s entry of that level)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -f -a "list" -d 'List the scheduled backups with their next run (local time)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -f -a "remove" -d 'Remove a set\'s scheduled backups, or with --all zrm\'s whole crontab block'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -f -a "run" -d 'Run a set\'s scheduled backup now, as cron would (to test a schedule); exits with its code'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and not __fish_seen_subcommand_from add list remove run help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -l set -d 'The backup set (a [sets.NAME] of the configuration)' -r
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -l interval -d 'How often: daily, weekly (with --day mon..sun) or monthly (with --day 1-28)' -r -f -a "daily\t''
weekly\t''
monthly\t''"
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -l at -d 'Time of day for --interval, local time, HH:MM from 00:00 to 23:59' -r
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -l day -d 'Day for --interval weekly (mon..sun, or 0-7: 0 and 7 are sunday) or monthly (1-28)' -r
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -l cron -d 'A cron expression instead of --interval: "M H DOM MON DOW", or @daily, @weekly, …' -r
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -l level -d '0 = full, 1 = incremental, auto = full if none usable (as for `zrm backup`)' -r -f -a "0\t''
1\t''
auto\t''"
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from list" -l set -d 'Only this set\'s entries' -r
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from list" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from list" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from list" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l set -d 'Remove this set\'s entries' -r
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l level -d 'Only the entry of this level' -r -f -a "0\t''
1\t''
auto\t''"
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l all -d 'Remove zrm\'s whole block from the crontab (every set, and the purge line)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from run" -l set -d 'The backup set' -r
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from run" -l level -d 'Which entry, when the set has several (e.g. a weekly level 0 and a daily level 1)' -r -f -a "0\t''
1\t''
auto\t''"
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from run" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from run" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from run" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from run" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from run" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a scheduled backup of a set to your crontab (or replace the set\'s entry of that level)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the scheduled backups with their next run (local time)'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a set\'s scheduled backups, or with --all zrm\'s whole crontab block'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "run" -d 'Run a set\'s scheduled backup now, as cron would (to test a schedule); exits with its code'
complete -c zrm -n "__fish_zrm_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zrm -n "__fish_zrm_using_subcommand report" -l view -d 'What to show' -r -f -a "status\t''
method\t''
retention\t''
performance\t''
restore-points\t''
verify\t''"
complete -c zrm -n "__fish_zrm_using_subcommand report" -l set -d 'Only this set' -r
complete -c zrm -n "__fish_zrm_using_subcommand report" -l since -d 'Only backups started at or after this time (UTC unless an offset is given)' -r
complete -c zrm -n "__fish_zrm_using_subcommand report" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand report" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand report" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand report" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand report" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -l zrm-conf-dir -d 'ZRM\'s configuration directory (default: $ZRM_ZRM_CONF_DIR, then /etc/mysql-zrm)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -l set -d 'A ZRM backup set to import (repeatable; default: every set of the directory)' -r
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -l options-file -d 'ZRM\'s --options-file, read after each set\'s mysql-zrm.conf' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -l out -d 'The zrm.toml to write (passwords go next to it, in SET.password, mode 0600)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -l force -d 'Replace --out if it exists'
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand import-config" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand import" -l from-zrm -d 'ZRM\'s destination (holding SET/YYYYMMDDHHMMSS/ images), e.g. /var/lib/mysql-zrm' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand import" -l set -d 'The zrm set the images join' -r
complete -c zrm -n "__fish_zrm_using_subcommand import" -l zrm-set -d 'ZRM\'s name of the set, when it is not the same' -r
complete -c zrm -n "__fish_zrm_using_subcommand import" -s c -l config -d 'Configuration file (default: $ZRM_CONFIG, then /etc/zrm/zrm.toml)' -r -F
complete -c zrm -n "__fish_zrm_using_subcommand import" -l format -d 'Output format: human text, or one JSON document on stdout (csv: binlog analyze, report; html: report)' -r -f -a "text\t''
json\t''
csv\t'Only where a command says so (binlog analyze, report)'
html\t'Only for `report`'"
complete -c zrm -n "__fish_zrm_using_subcommand import" -s q -l quiet -d 'Only errors on stderr'
complete -c zrm -n "__fish_zrm_using_subcommand import" -s v -l verbose -d 'More detail on stderr (-vv for debugging)'
complete -c zrm -n "__fish_zrm_using_subcommand import" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal)'
complete -c zrm -n "__fish_zrm_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "check" -d 'Check configuration, connection, privileges, binary log settings, tools and repository'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "backup" -d 'Take a backup: full (level 0) or incremental'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "list" -d 'List the backups in the catalog'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "show" -d 'Show one backup\'s manifest'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "restore" -d 'Restore a backup, then replay the archived binary logs to a point in time'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "binlog" -d 'Binary logs: archive, purge, analyze, find'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "checkpoint" -d 'A named, consistent cut across all shards of a cluster'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "verify" -d 'Verify backups: every file read back and checked, or a test restore with --restore'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "purge" -d 'Apply retention: delete expired backups and binary logs'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "pin" -d 'Keep a backup whatever the retention says'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "unpin" -d 'Let retention apply to a pinned backup again'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "replicate" -d 'Copy backups and binary logs to a second repository (disaster recovery)'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "key" -d 'Encryption keys'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "schedule" -d 'Manage crontab entries for scheduled backups'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "report" -d 'Reports: status, method, retention, performance, restore points'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "import-config" -d 'Write the zrm.toml equivalent of ZRM\'s mysql-zrm.conf files'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "import" -d 'Import ZRM\'s backup images into the repository (copied, md5 sums checked)'
complete -c zrm -n "__fish_zrm_using_subcommand help; and not __fish_seen_subcommand_from check backup list show restore binlog checkpoint verify purge pin unpin replicate key schedule report import-config import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c zrm -n "__fish_zrm_using_subcommand help; and __fish_seen_subcommand_from binlog" -f -a "archive" -d 'Copy closed (or with --follow, live) binary logs into the repository'
complete -c zrm -n "__fish_zrm_using_subcommand help; and __fish_seen_subcommand_from binlog" -f -a "purge" -d 'PURGE BINARY LOGS on the server, never past what is archived and verified'
complete -c zrm -n "__fish_zrm_using_subcommand help; and __fish_seen_subcommand_from binlog" -f -a "analyze" -d 'The binary log analyzer: events or transactions, filters, summaries'
complete -c zrm -n "__fish_zrm_using_subcommand help; and __fish_seen_subcommand_from binlog" -f -a "find" -d 'Resolve a recovery point to exact coordinates for `restore --until-position`'
complete -c zrm -n "__fish_zrm_using_subcommand help; and __fish_seen_subcommand_from binlog" -f -a "zrm-parse" -d '`mysql-zrm --action parse-binlogs`: ZRM\'s table of events'
complete -c zrm -n "__fish_zrm_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "generate" -d 'Write a new repository encryption key (mode 0600; never overwrites a file)'
complete -c zrm -n "__fish_zrm_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "add" -d 'Add a scheduled backup of a set to your crontab (or replace the set\'s entry of that level)'
complete -c zrm -n "__fish_zrm_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "list" -d 'List the scheduled backups with their next run (local time)'
complete -c zrm -n "__fish_zrm_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "remove" -d 'Remove a set\'s scheduled backups, or with --all zrm\'s whole crontab block'
complete -c zrm -n "__fish_zrm_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "run" -d 'Run a set\'s scheduled backup now, as cron would (to test a schedule); exits with its code'
