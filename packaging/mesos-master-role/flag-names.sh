# The flags of mesos-master in Mesos 1.11 and after (apache/mesos src/master/flags.cpp and src/logging/flags.cpp,
# aliases included): the names an extra-flags file may have. A file of the flag directory is the
# role's only when the role listed it and its name is one of these (mr_ours), so that a foreign
# name added to the role's lists is never deleted. A newer Mesos' flag works as an extra flag;
# its file is then left behind when the entry is dropped, and said.
MR_FLAG_DIR=/etc/mesos-master
# shellcheck disable=SC2034 # common.sh's mr_ours
MR_FLAG_NAMES='
acls advertise_ip advertise_port agent_ping_timeout agent_removal_rate_limit
agent_reregister_timeout allocation_interval allocator allocator_agent_recovery_factor
allocator_recovery_timeout authenticate authenticate_agents authenticate_frameworks
authenticate_http authenticate_http_frameworks authenticate_http_readonly
authenticate_http_readwrite authenticate_slaves authentication_v0_timeout authenticators
authorizers cluster credentials domain external_log_file fair_sharing_excluded_resource_names
filter_gpu_resources firewall_rules framework_sorter hooks hostname hostname_lookup
http_authenticators http_framework_authenticators initialize_driver_logging ip
ip_discovery_command log_auto_initialize log_dir logbufsecs logging_level master_contender
master_detector max_agent_ping_timeouts max_completed_frameworks
max_completed_tasks_per_framework max_executors_per_agent max_executors_per_slave
max_operator_event_stream_subscribers max_slave_ping_timeouts
max_unreachable_tasks_per_framework memory_profiling min_allocatable_resources modules
offer_constraints_re2_max_mem offer_constraints_re2_max_program_size offer_timeout port
publish_per_framework_metrics quiet quorum rate_limits recovery_agent_removal_limit
recovery_slave_removal_limit registry registry_fetch_timeout registry_gc_interval
registry_max_agent_age registry_max_agent_count registry_store_timeout registry_strict
require_agent_domain role_sorter roles root_submissions slave_ping_timeout
slave_removal_rate_limit slave_reregister_timeout user_sorter version webui_dir weights
whitelist work_dir zk zk_session_timeout
'
