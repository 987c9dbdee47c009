//! The deployment manifests (`deploy/k8s`) stay valid and keep what running
//! the binaries needs. `deploy/k8s/validate.sh` renders the base, the
//! production overlay and the restored overlay (production after a
//! point-in-time recovery) with kustomize (kubectl's) and validates every
//! resource offline and strictly: Kubernetes kinds against Kubernetes 1.33's
//! schemas (kubernetes-validate), the `CloudNativePG` `Cluster` and
//! `ScheduledBackup` and the Barman Cloud plugin's `ObjectStore` against
//! their CRDs' schemas in `deploy/k8s/schemas/`. The rendered production
//! overlay is then read here: hardened pods, shutdown grace, probes, the
//! database reached through the CNPG cluster's primary service with the
//! operator's credentials, and continuous backup; and the restored overlay:
//! a cluster recovered from that backup, with the app moved onto it. The tools are pinned in `deploy/k8s/requirements.txt`;
//! `./deploy/dev.sh test` makes their venv (`K8S_VENV`). Without it this
//! test fails rather than passing unseen.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

/// The CNPG cluster every binary connects to; the operator names its
/// services and Secrets after it (`-rw`, `-app`, `-ca`).
const CLUSTER: &str = "kisum-db";

/// The cluster the restored overlay recovers from `CLUSTER`'s backups.
const RESTORED: &str = "kisum-db-restored";

/// The Barman Cloud plugin (CNPG-I), which archives WAL and takes base backups.
const BARMAN_PLUGIN: &str = "barman-cloud.cloudnative-pg.io";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The venv `dev.sh` makes, or the test fails saying how to get it.
fn k8s_venv(root: &Path) -> PathBuf {
    let venv =
        std::env::var_os("K8S_VENV").map_or_else(|| root.join(".dev/k8s-venv"), PathBuf::from);
    for tool in ["kubectl", "kubernetes-validate", "python"] {
        assert!(
            venv.join("bin").join(tool).exists(),
            "the deploy manifests test needs {tool} in {}/bin: run `./deploy/dev.sh test`, which \
             installs deploy/k8s/requirements.txt there (or set K8S_VENV)",
            venv.display()
        );
    }
    venv
}

/// Runs `validate.sh`, keeping the rendered overlays in
/// `target/test-artifacts/deploy-manifests/<run>`; the script's output and
/// that directory.
fn validate(run: &str) -> (Output, PathBuf) {
    let root = workspace_root();
    let venv = k8s_venv(&root);
    let dir = root
        .join("target/test-artifacts/deploy-manifests")
        .join(run);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new("bash")
        .arg(root.join("deploy/k8s/validate.sh"))
        .arg(&dir)
        .env("K8S_VENV", &venv)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs deploy/k8s/validate.sh");
    assert!(
        output.status.success(),
        "deploy/k8s/validate.sh failed ({}); rendered files in {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, dir)
}

/// The rendered resources of one overlay (`validate.sh` writes them as JSON).
fn rendered(dir: &Path, overlay: &str) -> Vec<Value> {
    let file = dir.join(format!("{overlay}.json"));
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{} is written by validate.sh: {e}", file.display()));
    serde_json::from_str(&text).unwrap()
}

fn find<'a>(resources: &'a [Value], kind: &str, name: &str) -> &'a Value {
    resources
        .iter()
        .find(|r| r["kind"] == kind && r["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("the production overlay renders {kind} {name}"))
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is a string: {value}"))
}

fn int_of(value: &Value, what: &str) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| panic!("{what} is an integer: {value}"))
}

fn items<'a>(value: &'a Value, what: &str) -> &'a [Value] {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what} is a list: {value}"))
}

/// A container's `env` entry named `name`, with its place in the list.
fn env_entry<'a>(container: &'a Value, name: &str) -> (usize, &'a Value) {
    items(&container["env"], "env")
        .iter()
        .enumerate()
        .find(|(_, e)| e["name"] == name)
        .unwrap_or_else(|| panic!("container {} sets {name}", container["name"]))
}

/// `labels` has every pair of `selector`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels[k] == *v))
}

#[test]
fn deploy_manifests_render_and_validate_strictly_offline() {
    let (output, dir) = validate("validate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("FAIL") && !stdout.to_lowercase().contains("skip"),
        "every resource is validated, none skipped:\n{stdout}"
    );
    for overlay in ["base", "production", "restored"] {
        let resources = rendered(&dir, overlay);
        assert!(resources.len() >= 10, "{overlay}: {resources:?}");
        assert!(
            stdout
                .lines()
                .any(|l| l == format!("{overlay}: {} resources valid, 0 invalid", resources.len())),
            "{overlay}: a summary over all {} resources:\n{stdout}",
            resources.len()
        );
        for resource in &resources {
            let line = format!(
                "ok    {overlay}: {} {} {} (",
                str_of(&resource["apiVersion"], "apiVersion"),
                str_of(&resource["kind"], "kind"),
                str_of(&resource["metadata"]["name"], "metadata.name"),
            );
            let Some(verdict) = stdout.lines().find(|l| l.starts_with(&line)) else {
                panic!("no verdict for {line}…:\n{stdout}");
            };
            let expected = match str_of(&resource["apiVersion"], "apiVersion") {
                "postgresql.cnpg.io/v1" => "(CRD schema of cloudnative-pg ",
                "barmancloud.cnpg.io/v1" => "(CRD schema of plugin-barman-cloud ",
                _ => "(Kubernetes 1.33 schema, strict)",
            };
            assert!(verdict.contains(expected), "{verdict}");
        }
    }
    let kinds: BTreeSet<String> = rendered(&dir, "production")
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                str_of(&r["apiVersion"], "apiVersion"),
                str_of(&r["kind"], "kind")
            )
        })
        .collect();
    let expected: BTreeSet<String> = [
        "v1 Namespace",
        "v1 ServiceAccount",
        "v1 ConfigMap",
        "v1 Service",
        "apps/v1 Deployment",
        "batch/v1 Job",
        "autoscaling/v2 HorizontalPodAutoscaler",
        "policy/v1 PodDisruptionBudget",
        "postgresql.cnpg.io/v1 Cluster",
        "postgresql.cnpg.io/v1 ScheduledBackup",
        "barmancloud.cnpg.io/v1 ObjectStore",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(kinds, expected);
}

#[test]
fn production_overlay_runs_hardened_pods_against_the_cnpg_primary() {
    let (_, dir) = validate("production");
    let resources = rendered(&dir, "production");

    // One namespace under the restricted Pod Security Standard; the base's
    // development secrets are not shipped.
    let namespace = find(&resources, "Namespace", "kisum");
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    for resource in resources.iter().filter(|r| r["kind"] != "Namespace") {
        assert_eq!(resource["metadata"]["namespace"], "kisum", "{resource}");
        assert_ne!(resource["kind"], "Secret", "the operator creates secrets");
    }

    let config = resources
        .iter()
        .find(|r| {
            r["kind"] == "ConfigMap"
                && r["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("kisum-config-"))
        })
        .expect("the generated ConfigMap");
    assert_eq!(config["data"]["LOG_FORMAT"], "json");
    assert_eq!(config["data"]["RUN_MIGRATIONS_ON_START"], "false");
    assert_eq!(config["data"]["PORT"], "8080");
    let shutdown_grace: i64 = str_of(
        &config["data"]["SHUTDOWN_GRACE_SECONDS"],
        "SHUTDOWN_GRACE_SECONDS",
    )
    .parse()
    .unwrap();

    let cluster = find(&resources, "Cluster", CLUSTER);
    assert_eq!(cluster["spec"]["instances"], 3);
    assert_eq!(cluster["spec"]["bootstrap"]["initdb"]["owner"], "kisum");
    let database = str_of(
        &cluster["spec"]["bootstrap"]["initdb"]["database"],
        "initdb.database",
    );

    let api = find(&resources, "Deployment", "kisum-api");
    let worker = find(&resources, "Deployment", "kisum-worker");
    let migrate = find(&resources, "Job", "kisum-migrate");
    let config_name = str_of(&config["metadata"]["name"], "ConfigMap name");
    for workload in [api, worker, migrate] {
        check_pod(workload, config_name, CLUSTER, database);
    }
    check_api(&resources, api, shutdown_grace);
    check_worker(worker, shutdown_grace);
    for (budget, workload) in [("kisum-api", api), ("kisum-worker", worker)] {
        let pdb = find(&resources, "PodDisruptionBudget", budget);
        assert_eq!(pdb["apiVersion"], "policy/v1");
        assert!(
            selects(
                &pdb["spec"]["selector"]["matchLabels"],
                &workload["spec"]["template"]["metadata"]["labels"]
            ),
            "{pdb}"
        );
    }

    // The migrations: `kisum-api migrate`, retried a few times, cleaned up.
    let spec = &migrate["spec"];
    let container = &items(&spec["template"]["spec"]["containers"], "containers")[0];
    assert_eq!(container["command"], json!(["kisum-api", "migrate"]));
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
    assert!(int_of(&spec["backoffLimit"], "backoffLimit") >= 1);
    assert!(int_of(&spec["ttlSecondsAfterFinished"], "ttlSecondsAfterFinished") > 0);
}

/// The Barman Cloud plugin's entry of a cluster's `plugins` (the WAL
/// archiver) or of an external cluster: its parameters.
fn barman_parameters<'a>(entry: &'a Value, what: &str) -> &'a Value {
    assert_eq!(entry["name"], BARMAN_PLUGIN, "{what}: {entry}");
    &entry["parameters"]
}

/// The cluster's WAL archiver: the Barman Cloud plugin, with the object store
/// and the folder (`serverName`) it writes to.
fn wal_archiver<'a>(cluster: &'a Value, what: &str) -> &'a Value {
    let archivers: Vec<&Value> = items(&cluster["spec"]["plugins"], "plugins")
        .iter()
        .filter(|p| p["isWALArchiver"] == true)
        .collect();
    assert_eq!(
        archivers.len(),
        1,
        "{what}: one WAL archiver: {archivers:?}"
    );
    barman_parameters(archivers[0], what)
}

/// A nightly base backup of `cluster` through the plugin.
fn check_scheduled_backup(resources: &[Value], cluster: &str) {
    let backups: Vec<&Value> = resources
        .iter()
        .filter(|r| r["kind"] == "ScheduledBackup")
        .collect();
    assert_eq!(backups.len(), 1, "one ScheduledBackup: {backups:?}");
    let spec = &backups[0]["spec"];
    assert_eq!(spec["cluster"]["name"], cluster, "{spec}");
    assert_eq!(spec["method"], "plugin", "{spec}");
    assert_eq!(spec["pluginConfiguration"]["name"], BARMAN_PLUGIN, "{spec}");
    assert_eq!(
        str_of(&spec["schedule"], "schedule").split(' ').count(),
        6,
        "CNPG's schedule has six fields, seconds first: {spec}"
    );
}

#[test]
fn production_backs_up_continuously_and_the_restored_overlay_recovers_to_a_point_in_time() {
    let (_, dir) = validate("backups");
    let production = rendered(&dir, "production");

    // WAL archiving and base backups into one object store, through the
    // plugin (the in-tree barmanObjectStore leaves the operator in 1.31).
    let cluster = find(&production, "Cluster", CLUSTER);
    assert!(
        cluster["spec"]["backup"].is_null(),
        "no in-tree backup section: {}",
        cluster["spec"]["backup"]
    );
    let archive = wal_archiver(cluster, CLUSTER);
    let store_name = str_of(&archive["barmanObjectName"], "barmanObjectName");
    assert_eq!(archive["serverName"], CLUSTER);
    let store = find(&production, "ObjectStore", store_name);
    assert_eq!(store["spec"]["retentionPolicy"], "30d");
    let configuration = &store["spec"]["configuration"];
    assert!(
        str_of(&configuration["destinationPath"], "destinationPath").starts_with("s3://"),
        "{configuration}"
    );
    assert!(
        configuration["serverName"].is_null(),
        "the folder is the Cluster's plugin parameter, not the store's"
    );
    // Credentials from a Secret the operator creates (none is rendered).
    for key in ["accessKeyId", "secretAccessKey"] {
        let reference = &configuration["s3Credentials"][key];
        assert_eq!(reference["name"], "kisum-db-backup-s3", "{key}");
        assert!(reference["key"].is_string(), "{key}");
    }
    check_scheduled_backup(&production, CLUSTER);

    // The restored overlay: a new cluster recovered from that store up to a
    // target time, archiving to a folder of its own.
    let restored = rendered(&dir, "restored");
    assert_eq!(
        find(&restored, "Cluster", CLUSTER)["spec"],
        cluster["spec"],
        "the damaged cluster is left as it is"
    );
    let recovered = find(&restored, "Cluster", RESTORED);
    assert_eq!(recovered["metadata"]["namespace"], "kisum");
    assert_eq!(
        recovered["metadata"]["labels"]["app.kubernetes.io/component"], "restored-database",
        "the runbook applies the cluster alone by this label"
    );
    let recovery = &recovered["spec"]["bootstrap"]["recovery"];
    assert_eq!(recovery["database"], "kisum");
    assert_eq!(recovery["owner"], "kisum");
    let target = str_of(&recovery["recoveryTarget"]["targetTime"], "targetTime");
    assert!(
        chrono::DateTime::parse_from_str(target, "%Y-%m-%d %H:%M:%S%.f%#z").is_ok(),
        "a time with its offset: {target}"
    );
    let source = str_of(&recovery["source"], "recovery.source");
    let external = items(&recovered["spec"]["externalClusters"], "externalClusters")
        .iter()
        .find(|c| c["name"] == source)
        .unwrap_or_else(|| panic!("the recovery source {source} is an external cluster"));
    let from = barman_parameters(&external["plugin"], "the recovery source");
    assert_eq!(from["barmanObjectName"], store_name);
    assert_eq!(
        from["serverName"], archive["serverName"],
        "kisum-db's folder"
    );
    let own = wal_archiver(recovered, RESTORED);
    assert_eq!(own["barmanObjectName"], store_name);
    assert_ne!(
        own["serverName"], archive["serverName"],
        "the restored cluster never archives into the source's folder"
    );
    for key in [
        "instances",
        "storage",
        "resources",
        "postgresql",
        "imageName",
    ] {
        assert_eq!(recovered["spec"][key], cluster["spec"][key], "{key}");
    }
    check_scheduled_backup(&restored, RESTORED);

    // The app moves onto the restored cluster, everything else as in production.
    let config = restored
        .iter()
        .find(|r| r["kind"] == "ConfigMap")
        .expect("the generated ConfigMap");
    let config_name = str_of(&config["metadata"]["name"], "ConfigMap name");
    for (kind, name) in [
        ("Deployment", "kisum-api"),
        ("Deployment", "kisum-worker"),
        ("Job", "kisum-migrate"),
    ] {
        let workload = find(&restored, kind, name);
        check_pod(workload, config_name, RESTORED, "kisum");
        let mut before = find(&production, kind, name).clone();
        let mut after = workload.clone();
        for pod in [&mut before, &mut after] {
            let spec = &mut pod["spec"]["template"]["spec"];
            spec["containers"][0]["env"] = Value::Null;
            spec["volumes"] = Value::Null;
        }
        assert_eq!(after, before, "{name}: only its database changes");
    }
}

/// A workload's pod: non-root, read-only, no privilege, bounded resources,
/// a pinned released image, settings from the generated `ConfigMap`, and the
/// database through the CNPG primary's service with the operator's
/// credentials, its certificate checked against the cluster's CA.
fn check_pod(workload: &Value, config_name: &str, cluster: &str, database: &str) {
    let name = str_of(&workload["metadata"]["name"], "name");
    let pod = &workload["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
        "{name}"
    );
    assert_eq!(pod["automountServiceAccountToken"], false, "{name}");
    if workload["kind"] == "Deployment" {
        assert!(
            selects(
                &workload["spec"]["selector"]["matchLabels"],
                &workload["spec"]["template"]["metadata"]["labels"]
            ),
            "{name}: the selector matches the pods"
        );
    }
    for container in items(&pod["containers"], "containers") {
        let security = &container["securityContext"];
        assert_eq!(security["runAsNonRoot"], true, "{name}");
        assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
        assert!(
            items(&security["capabilities"]["drop"], "capabilities.drop").contains(&json!("ALL")),
            "{name}"
        );
        for bound in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                assert!(
                    container["resources"][bound][resource].is_string(),
                    "{name}: resources.{bound}.{resource}"
                );
            }
        }
        let image = str_of(&container["image"], "image");
        let tag = image.rsplit_once(':').map(|(_, tag)| tag);
        assert!(
            image.contains('/') && tag.is_some_and(|t| t != "latest" && !t.contains('/')),
            "{name}: a released image, pinned: {image}"
        );
        let from = items(&container["envFrom"], "envFrom");
        assert!(
            from.iter()
                .any(|f| f["configMapRef"]["name"] == config_name),
            "{name}: {from:?}"
        );
        check_database_url(name, pod, container, cluster, database);
    }
}

/// `DATABASE_URL` names the CNPG cluster's `-rw` service and database, with
/// the user and password of its `-app` Secret, over TLS verified against
/// the CA of its `-ca` Secret.
fn check_database_url(name: &str, pod: &Value, container: &Value, cluster: &str, database: &str) {
    let (url_at, url) = env_entry(container, "DATABASE_URL");
    let url = str_of(&url["value"], "DATABASE_URL");
    let rest = url
        .strip_prefix("postgres://$(DB_USER):$(DB_PASSWORD)@")
        .unwrap_or_else(|| panic!("{name}: DATABASE_URL with the app credentials: {url}"));
    let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
    assert_eq!(target, format!("{cluster}-rw:5432/{database}"), "{name}");
    assert!(
        query.split('&').any(|p| p == "sslmode=verify-full"),
        "{name}: {url}"
    );
    for (var, key) in [("DB_USER", "username"), ("DB_PASSWORD", "password")] {
        let (at, entry) = env_entry(container, var);
        assert!(
            at < url_at,
            "{name}: {var} is defined before DATABASE_URL expands it"
        );
        let secret = &entry["valueFrom"]["secretKeyRef"];
        assert_eq!(secret["name"], format!("{cluster}-app"), "{name}: {var}");
        assert_eq!(secret["key"], key, "{name}: {var}");
    }
    let root_cert = query
        .split('&')
        .find_map(|p| p.strip_prefix("sslrootcert="))
        .unwrap_or_else(|| panic!("{name}: sslrootcert in {url}"));
    let (mount_dir, file) = root_cert
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("{name}: sslrootcert is a path: {root_cert}"));
    let mount = items(&container["volumeMounts"], "volumeMounts")
        .iter()
        .find(|m| m["mountPath"] == mount_dir)
        .unwrap_or_else(|| panic!("{name}: a volume at {mount_dir}"));
    let volume = items(&pod["volumes"], "volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap_or_else(|| panic!("{name}: volume {}", mount["name"]));
    assert_eq!(
        volume["secret"]["secretName"],
        format!("{cluster}-ca"),
        "{name}"
    );
    let projected = items(&volume["secret"]["items"], "secret items");
    assert!(
        projected.len() == 1 && projected[0]["key"] == "ca.crt" && projected[0]["path"] == file,
        "{name}: only ca.crt of the CA secret is mounted: {projected:?}"
    );
}

/// The API: at least 2 replicas scaled by CPU, reached through a `ClusterIP`
/// Service, probed on `/healthz` (liveness) and `/readyz` (readiness), and
/// drained before it stops.
fn check_api(resources: &[Value], api: &Value, shutdown_grace: i64) {
    let pod = &api["spec"]["template"]["spec"];
    let containers = items(&pod["containers"], "containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    assert_eq!(container["command"], json!(["kisum-api"]));
    assert!(
        api["spec"]["replicas"].is_null(),
        "the autoscaler owns the API's replicas"
    );
    let port = items(&container["ports"], "ports")
        .iter()
        .find(|p| p["containerPort"] == 8080)
        .expect("the API listens on 8080");
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert!(
            get["port"] == port["name"] || get["port"] == port["containerPort"],
            "{probe} hits the API's port"
        );
    }
    let pre_stop = int_of(
        &container["lifecycle"]["preStop"]["sleep"]["seconds"],
        "preStop sleep",
    );
    let period = int_of(&pod["terminationGracePeriodSeconds"], "API grace period");
    assert!(
        period > pre_stop + shutdown_grace,
        "the API's grace period ({period} s) outlasts preStop ({pre_stop} s) and \
         SHUTDOWN_GRACE_SECONDS ({shutdown_grace} s)"
    );

    let hpa = find(resources, "HorizontalPodAutoscaler", "kisum-api");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "kisum-api");
    let min = int_of(&hpa["spec"]["minReplicas"], "minReplicas");
    assert!(min >= 2, "{hpa}");
    assert!(
        int_of(&hpa["spec"]["maxReplicas"], "maxReplicas") > min,
        "{hpa}"
    );
    assert!(
        items(&hpa["spec"]["metrics"], "metrics")
            .iter()
            .any(|m| m["resource"]["name"] == "cpu"),
        "{hpa}"
    );

    let service = find(resources, "Service", "kisum-api");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert!(selects(
        &service["spec"]["selector"],
        &api["spec"]["template"]["metadata"]["labels"]
    ));
    assert!(
        items(&service["spec"]["ports"], "ports")
            .iter()
            .any(|p| p["targetPort"] == port["name"] || p["targetPort"] == port["containerPort"]),
        "{service}"
    );
}

/// The worker: at least 2 replicas, no HTTP (so no HTTP probe), and time to
/// finish its running jobs when it stops.
fn check_worker(worker: &Value, shutdown_grace: i64) {
    let pod = &worker["spec"]["template"]["spec"];
    assert!(int_of(&worker["spec"]["replicas"], "worker replicas") >= 2);
    let container = &items(&pod["containers"], "containers")[0];
    assert_eq!(container["command"], json!(["kisum-worker"]));
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        assert!(
            container[probe]["httpGet"].is_null(),
            "the worker serves no HTTP: {probe}"
        );
    }
    let period = int_of(&pod["terminationGracePeriodSeconds"], "worker grace period");
    assert!(
        period > shutdown_grace,
        "the worker's grace period ({period} s) outlasts SHUTDOWN_GRACE_SECONDS ({shutdown_grace} s)"
    );
}
