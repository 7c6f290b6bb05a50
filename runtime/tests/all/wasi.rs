//! WASI preview 1: real Rust plugins built for wasm32-wasip1 (a reactor and
//! a command, `tests/plugins/wasi-plugin`) and WAT edge cases
//! (`tests/data/wasi/`), run with nothing granted and with grants, with
//! stdout captured or handed to a sink, under every limit.

#[cfg(not(feature = "wasi"))]
#[test]
fn wasi_tests_need_the_wasi_feature() {
    crate::common::not_run(
        "spindle-runtime was built without its `wasi` feature; \
         run `cargo test -p spindle-runtime --features wasi --test all wasi::` \
         (the workspace test enables it through spindle-cli)",
    );
}

#[cfg(feature = "wasi")]
mod with_wasi {
    use spindle_runtime::{
        BoxError, Ctx, ErrorKind, Host, HostBuilder, Limits, LinkProblem, Output, Step, Wasi,
    };
    use spindle_test_support::wasi_plugins::WasiPlugins;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// The WASI test plugins, built under this test binary's target tmpdir.
    fn plugins() -> &'static WasiPlugins {
        spindle_test_support::wasi_plugins::plugins(Path::new(env!("CARGO_TARGET_TMPDIR")))
    }

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/wasi")
            .join(name)
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("wasi-tests")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A host with WASI and the `app.ask` host function the reactor imports
    /// (synchronous here: it answers twice the question).
    fn host(grants: Wasi) -> Host<()> {
        Host::<()>::builder()
            .func("app", "ask", |_cx: Ctx<'_, ()>, q: i32| i64::from(q) * 2)
            .wasi(grants)
            .build()
            .unwrap()
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_reactor_prints_into_its_capture_and_keeps_state_between_calls() {
        let plugin = host(Wasi::new()).load_file(&plugins().reactor).unwrap();
        assert!(plugin.imports_wasi() && plugin.is_reactor() && !plugin.is_command());
        let mut inst = plugin.instantiate(()).unwrap();
        assert_eq!(inst.call::<(), u32>("hello", ()).unwrap(), 1);
        assert_eq!(inst.call::<(), u32>("hello", ()).unwrap(), 2);
        assert_eq!(
            text(inst.stdout()),
            "hello from a WASI reactor, call 1\nhello from a WASI reactor, call 2\n"
        );
        assert_eq!(text(inst.stderr()), "a line on stderr\n".repeat(2));
        // take_ clears; a fresh instance has its own buffers and state.
        assert_eq!(inst.take_stdout().len(), 68);
        assert!(inst.stdout().is_empty());
        let mut other = plugin.instantiate(()).unwrap();
        assert_eq!(other.call::<(), u32>("hello", ()).unwrap(), 1);
        assert_eq!(text(other.stdout()), "hello from a WASI reactor, call 1\n");
        assert!(inst.stdout().is_empty());
    }

    #[test]
    fn call_str_works_on_a_wasi_plugin_and_its_prints_are_captured() {
        let mut inst = host(Wasi::new())
            .load_file(&plugins().reactor)
            .unwrap()
            .instantiate(())
            .unwrap();
        assert_eq!(inst.call_str("greet", "world").unwrap(), "Hello, world!");
        assert_eq!(inst.call_str("greet", "wasi").unwrap(), "Hello, wasi!");
        assert_eq!(text(inst.stdout()), "greeting world\ngreeting wasi\n");
    }

    #[test]
    fn a_cdylib_without_initialize_runs_too() {
        let plugin = host(Wasi::new()).load_file(&plugins().wrapped).unwrap();
        assert!(!plugin.is_reactor());
        let mut inst = plugin.instantiate(()).unwrap();
        inst.call::<(), u32>("hello", ()).unwrap();
        assert_eq!(text(inst.stdout()), "hello from a WASI reactor, call 1\n");
    }

    #[test]
    fn initialize_runs_once_per_instance_before_the_first_call() {
        let plugin = host(Wasi::new()).load_file(data("init.wat")).unwrap();
        for _ in 0..2 {
            let mut inst = plugin.instantiate(()).unwrap();
            assert_eq!(inst.call::<(), i32>("runs", ()).unwrap(), 1);
            assert_eq!(inst.call::<(), i32>("runs", ()).unwrap(), 1);
        }
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let mut inst = host(Wasi::new())
            .load_file(&plugins().reactor)
            .unwrap()
            .instantiate(())
            .unwrap();
        // The host process has an environment (PATH, HOME, ...): none of it shows.
        assert_eq!(inst.call::<(), u32>("probe", ()).unwrap(), 0);
        let out = text(inst.stdout());
        assert!(out.contains("env: []\n"), "{out}");
        let name = plugins().reactor.display().to_string();
        assert!(out.contains(&format!("args: [{name:?}]\n")), "{out}");
        for path in ["/etc/passwd", "/", ".", "/data/input.txt"] {
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("read {path}:")))
                .unwrap();
            assert!(!line.contains("bytes"), "{line}");
        }
        let connect = out.lines().find(|l| l.starts_with("connect:")).unwrap();
        assert_ne!(connect, "connect: ok");
        // Clocks and random numbers are there.
        let secs = inst.call::<(), u64>("clock_and_random", ()).unwrap();
        assert!(secs > 1_600_000_000, "{secs}");
    }

    #[test]
    fn a_command_gets_exactly_the_granted_args_env_and_directories() {
        let data_dir = scratch("cmd-data");
        std::fs::write(data_dir.join("input.txt"), "from the host\n").unwrap();
        let out_dir = scratch("cmd-out");
        let grants = Wasi::new()
            .args(["one", "two words"])
            .env("GREETING", "hi")
            .dir_ro(&data_dir, "/data")
            .dir_rw(&out_dir, "/out");
        let plugin = host(Wasi::new()).load_file(&plugins().command).unwrap();
        assert!(plugin.is_command() && !plugin.is_reactor());
        let mut inst = plugin
            .instantiate_with_wasi((), Limits::new(), &grants)
            .unwrap();
        assert_eq!(inst.run_command().unwrap(), 0);
        let out = text(inst.stdout());
        assert_eq!(
            out,
            format!(
                "args: [\"one\", \"two words\"]\nargv0: {}\nGREETING=hi\ninput: from the host\n\
                 wrote /out/result.txt\n",
                plugins().command.display()
            )
        );
        assert_eq!(text(inst.stderr()), "wasi-cmd: done\n");
        assert_eq!(
            std::fs::read_to_string(out_dir.join("result.txt")).unwrap(),
            "written by wasi-cmd\n"
        );

        // A read-only grant cannot be written; the host default has nothing.
        let ro = scratch("cmd-ro");
        let mut inst = plugin
            .instantiate_with_wasi((), Limits::new(), &Wasi::new().dir_ro(&ro, "/out"))
            .unwrap();
        assert_eq!(inst.run_command().unwrap(), 0);
        let out = text(inst.stdout());
        assert!(out.contains("cannot write /out/result.txt"), "{out}");
        assert!(!ro.join("result.txt").exists());
        let mut inst = plugin.instantiate(()).unwrap();
        inst.run_command().unwrap();
        let out = text(inst.stdout());
        assert!(out.contains("args: []\nargv0: "), "{out}");
        assert!(out.contains("GREETING is not set\nno input: "), "{out}");
    }

    #[test]
    fn exit_codes_of_commands_and_exports() {
        let plugin = host(Wasi::new()).load_file(&plugins().command).unwrap();
        let grants = Wasi::new().args(["--exit", "5"]);
        let mut inst = plugin
            .instantiate_with_wasi((), Limits::new(), &grants)
            .unwrap();
        assert_eq!(inst.run_command().unwrap(), 5);

        let plugin = host(Wasi::new()).load_file(data("exit.wat")).unwrap();
        let mut inst = plugin.instantiate(()).unwrap();
        assert_eq!(inst.run_command().unwrap(), 3);
        inst.call::<i32, ()>("set_code", 0).unwrap();
        assert_eq!(inst.run_command().unwrap(), 0);
        // proc_exit(0) ends an export without results normally...
        inst.call::<i32, ()>("exit", 0).unwrap();
        // ...a non-zero code is its own error, with the code...
        let err = inst.call::<i32, ()>("exit", 9).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Exit { code: 9 }), "{err}");
        assert_eq!(err.to_string(), "plugin exited with code 9 (proc_exit)");
        // ...and an export that had a result to return cannot return it.
        let err = inst.call::<i32, i32>("exit_with_result", 0).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Exit { code: 0 }), "{err}");
        // Every code reaches the application (wasmtime-wasi's own
        // proc_exit traps from 126 up).
        for code in [126, 255, 256, -1] {
            let err = inst.call::<i32, ()>("exit", code).unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::Exit { code: c } if *c == code),
                "{err}"
            );
        }
        // The instance goes on.
        inst.call::<i32, ()>("exit", 0).unwrap();

        // From Rust's std::process::exit in a reactor.
        let mut inst = host(Wasi::new())
            .load_file(&plugins().reactor)
            .unwrap()
            .instantiate(())
            .unwrap();
        let err = inst.call::<i32, ()>("exit_with", 17).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Exit { code: 17 }), "{err}");
        inst.call::<i32, ()>("exit_with", 0).unwrap();
        assert_eq!(text(inst.stdout()), "exiting with 17\nexiting with 0\n");

        // A module that is not a command.
        let err = inst.run_command().unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::MissingExport { .. }),
            "{err}"
        );
    }

    #[test]
    fn a_flood_past_the_capture_bound_is_a_distinct_error_and_keeps_what_fit() {
        let grants = Wasi::new()
            .stdout(Output::capture(1000))
            .stderr(Output::capture(3000));
        let mut inst = host(grants.clone())
            .load_file(&plugins().reactor)
            .unwrap()
            .instantiate(())
            .unwrap();
        let err = inst.call::<u32, ()>("flood", 100).unwrap_err();
        match err.kind() {
            ErrorKind::WasiOutputLimit { stream, limit, .. } => {
                assert_eq!((*stream, *limit), ("stdout", 1000));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string()
                .contains("more than 1000 bytes to its stdout"),
            "{err}"
        );
        let kept = inst.take_stdout();
        assert_eq!(kept.len(), 1000);
        assert!(kept.starts_with(&[b'x'; 63]));
        // The trap came in the middle of std's locked write, whose RefCell
        // stays borrowed in the plugin's memory: this instance's stdout is
        // broken for good (like after any trap), the host and others are not.
        let err = inst.call::<u32, ()>("flood", 1).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Trap { .. }), "{err}");

        let mut inst = host(grants)
            .load_file(data("flood.wat"))
            .unwrap()
            .instantiate(())
            .unwrap();
        assert_eq!(inst.call::<(i32, i32), i32>("flood", (2, 2)).unwrap(), 0);
        let err = inst.call::<(i32, i32), i32>("flood", (2, 1)).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::WasiOutputLimit {
                    stream: "stderr",
                    limit: 3000,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(inst.stderr().len(), 3000);
        assert!(inst.stdout().is_empty());
        // This plugin keeps no state across the trap: cleared, it writes again.
        assert_eq!(inst.take_stderr().len(), 3000);
        assert_eq!(inst.call::<(i32, i32), i32>("flood", (2, 2)).unwrap(), 0);
        assert_eq!(inst.stderr().len(), 2048);
        // A bad descriptor is an errno for the plugin, not a host error.
        assert_eq!(inst.call::<(i32, i32), i32>("flood", (9, 1)).unwrap(), 8);
    }

    #[test]
    fn a_sink_gets_the_output_as_it_is_written() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let grants = Wasi::new()
            .stdout(Output::sink(move |b| {
                s.lock().unwrap().extend_from_slice(b)
            }))
            .stderr(Output::Discard);
        let mut inst = host(grants)
            .load_file(&plugins().reactor)
            .unwrap()
            .instantiate(())
            .unwrap();
        inst.call::<(), u32>("hello", ()).unwrap();
        assert_eq!(
            text(seen.lock().unwrap().clone()),
            "hello from a WASI reactor, call 1\n"
        );
        // No bound on a sink, nothing captured.
        inst.call::<u32, ()>("flood", 10_000).unwrap();
        assert_eq!(seen.lock().unwrap().len(), 34 + 640_000);
        assert!(inst.stdout().is_empty() && inst.stderr().is_empty());

        // Inherited: written to this process's own stderr, nothing kept.
        let grants = Wasi::new().stdout(Output::Discard).stderr(Output::Inherit);
        let mut inst = host(grants)
            .load_file(&plugins().reactor)
            .unwrap()
            .instantiate(())
            .unwrap();
        assert_eq!(inst.call::<(), u32>("hello", ()).unwrap(), 1);
        assert!(inst.stdout().is_empty() && inst.stderr().is_empty());
    }

    #[test]
    fn a_missing_granted_directory_fails_instantiation() {
        let plugin = host(Wasi::new()).load_file(&plugins().command).unwrap();
        let grants = Wasi::new().dir_ro("/nonexistent/spindle-wasi", "/data");
        let err = plugin
            .instantiate_with_wasi((), Limits::new(), &grants)
            .err()
            .unwrap();
        match err.kind() {
            ErrorKind::WasiDir { host, guest, .. } => {
                assert_eq!(host, Path::new("/nonexistent/spindle-wasi"));
                assert_eq!(guest, "/data");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_host_without_wasi_says_how_to_enable_it() {
        let host = Host::<()>::builder()
            .func("app", "ask", |_cx: Ctx<'_, ()>, q: i32| i64::from(q))
            .build()
            .unwrap();
        let err = host.load_file(&plugins().reactor).err().unwrap();
        let link = err.as_link().expect("a link report");
        let LinkProblem::WasiNotEnabled { names, feature } = &link.problems()[0] else {
            panic!("{err}");
        };
        assert!(*feature);
        assert!(names.iter().any(|n| n == "fd_write"), "{names:?}");
        assert_eq!(link.problems().len(), 1, "{err}");
        let shown = err.report().to_string();
        assert!(
            shown.contains("enable WASI: build the host with `Host::builder().wasi(spindle_runtime::Wasi::new())`"),
            "{shown}"
        );
        // Granting per instance needs a WASI host.
        let plain = host.load_wat("p", "(module)").unwrap();
        let err = plain
            .instantiate_with_wasi((), Limits::new(), &Wasi::new())
            .err()
            .unwrap();
        assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err}");
    }

    #[test]
    fn an_unknown_wasi_function_is_named_as_such() {
        for host in [host(Wasi::new()), Host::<()>::builder().build().unwrap()] {
            let err = host.load_file(data("unknown_import.wat")).err().unwrap();
            let link = err.as_link().unwrap();
            let unknown = link
                .problems()
                .iter()
                .find_map(|p| match p {
                    LinkProblem::UnknownWasiFunction {
                        name, suggestions, ..
                    } => Some((name.clone(), suggestions.clone())),
                    _ => None,
                })
                .expect("an unknown-function problem");
            assert_eq!(unknown.0, "fd_writ");
            assert_eq!(unknown.1.first().map(String::as_str), Some("fd_write"));
            let shown = err.report().to_string();
            assert!(shown.contains("unknown WASI function"), "{shown}");
            assert!(shown.contains("did you mean \"fd_write\"?"), "{shown}");
        }
    }

    #[test]
    fn wasi_and_a_host_function_in_its_module_clash_at_build_time() {
        let err = Host::<()>::builder()
            .func(
                "wasi_snapshot_preview1",
                "sched_yield",
                |_cx: Ctx<'_, ()>| 0i32,
            )
            .wasi(Wasi::new())
            .build()
            .err()
            .unwrap();
        assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err}");
    }

    #[test]
    fn fuel_deadline_and_memory_limits_hold_for_wasi_plugins() {
        let host = Host::<()>::builder()
            .func("app", "ask", |_cx: Ctx<'_, ()>, q: i32| i64::from(q))
            .wasi(Wasi::new())
            .enable_fuel()
            .build()
            .unwrap();
        let plugin = host.load_file(&plugins().reactor).unwrap();
        let mut inst = plugin
            .instantiate_with((), Limits::new().fuel(5_000_000))
            .unwrap();
        let err = inst.call::<(), ()>("spin", ()).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::OutOfFuel { .. }), "{err}");
        // Fuel is per call: printing still works after.
        assert_eq!(inst.call::<(), u32>("hello", ()).unwrap(), 1);

        let mut inst = plugin
            .instantiate_with((), Limits::new().deadline(Duration::from_millis(50)))
            .unwrap();
        let err = inst.call::<(), ()>("spin", ()).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::DeadlineExceeded { .. }),
            "{err}"
        );

        let mut inst = plugin
            .instantiate_with((), Limits::new().max_memory_bytes(4 << 20))
            .unwrap();
        assert_eq!(inst.call::<u32, u32>("grow", 1).unwrap(), 1024);
        let err = inst.call::<u32, u32>("grow", 16).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::MemoryLimit { .. }), "{err}");
    }

    #[test]
    fn resumable_calls_suspend_a_wasi_plugin_between_prints() {
        let host = HostBuilder::<()>::new()
            .func_async("app", "ask", |mut cx: Ctx<'_, ()>, (q,): (i32,)| {
                Box::new(async move {
                    let answer: i64 = cx.suspend::<i32, i64>(q).await?;
                    Ok::<i64, BoxError>(answer)
                })
            })
            .wasi(Wasi::new())
            .build()
            .unwrap();
        let plugin = host.load_file(&plugins().reactor).unwrap();
        assert!(plugin.needs_async());
        let mut inst = plugin.instantiate(()).unwrap();
        {
            let mut call = inst
                .start::<i32, i64, i32, i64>("ask_and_print", 21)
                .unwrap();
            assert!(matches!(call.run().unwrap(), Step::Suspended(21)));
            assert!(matches!(call.resume(42).unwrap(), Step::Returned(42)));
        }
        assert_eq!(text(inst.stdout()), "asking 21\nanswer 42\n");
        // Plain calls of a fiber plugin print too, and proc_exit(0) in a
        // resumable call is a normal return.
        assert_eq!(inst.call::<(), u32>("hello", ()).unwrap(), 1);
        let mut call = inst.start::<i32, (), i32, i64>("exit_with", 0).unwrap();
        assert!(matches!(call.run().unwrap(), Step::Returned(())));
    }

    /// Far above the limits under test and far below the waits the plugins
    /// ask for: the oracle is that the wait never finished, this only
    /// catches one that ran on to its end.
    const WELL_BEFORE: Duration = Duration::from_secs(6);

    fn command_asking(args: &[&str]) -> Host<()> {
        host(Wasi::new().args(args.iter().copied()))
    }

    /// The audit's finding: a 1 s deadline let `std::thread::sleep(8 s)`
    /// finish (it counted epoch callbacks; a WASI call is at most one) and
    /// one `poll_oneoff` of an hour run for ten minutes until killed. WASI's
    /// host calls are futures now, dropped when the deadline passes.
    #[test]
    fn a_deadline_ends_wasi_sleeps_at_the_deadline() {
        let deadline = Duration::from_millis(500);
        let h = command_asking(&["--sleep", "8"]);
        for plugin in [
            h.load_file(&plugins().command).unwrap(),
            h.load_file(data("sleep_hour.wat")).unwrap(),
        ] {
            let mut inst = plugin
                .instantiate_with((), Limits::new().deadline(deadline))
                .unwrap();
            let started = std::time::Instant::now();
            let err = inst.run_command().unwrap_err();
            let took = started.elapsed();
            assert!(
                matches!(err.kind(), ErrorKind::DeadlineExceeded { deadline: d, .. } if *d == deadline),
                "{}: {err:?}",
                plugin.name()
            );
            assert!(took >= deadline && took < WELL_BEFORE, "{took:?}");
            assert!(!text(inst.stdout()).contains("woke"));
        }
    }

    /// Any wait, not just a clock: a read of a FIFO in a granted directory
    /// (its open blocks until a writer comes) ends at the deadline too.
    #[test]
    fn a_deadline_ends_a_blocking_read_of_a_fifo() {
        let dir = scratch("fifo");
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let h = host(
            Wasi::new()
                .args(["--read", "/data/fifo"])
                .dir_ro(&dir, "/data"),
        );
        let plugin = h.load_file(&plugins().command).unwrap();
        let deadline = Duration::from_millis(500);
        let mut inst = plugin
            .instantiate_with((), Limits::new().deadline(deadline))
            .unwrap();
        let started = std::time::Instant::now();
        let err = inst.run_command().unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::DeadlineExceeded { .. }),
            "{err:?}"
        );
        assert!(started.elapsed() < WELL_BEFORE);
        assert!(!text(inst.stdout()).contains("read "));
        // The blocked open stays on a worker thread of wasmtime-wasi's
        // runtime until a writer comes (SECURITY.md): release it. Without
        // blocking: if the plugin never got as far as opening it, there is
        // no reader and this fails with ENXIO instead of hanging the test.
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo);
    }

    /// A cancel ends a WASI wait at once; fuel alone bounds it at a
    /// nanosecond per unit; an application's own executor gets the same.
    #[test]
    fn cancel_fuel_and_call_async_end_wasi_waits() {
        let h = Host::<()>::builder()
            .func("app", "ask", |_cx: Ctx<'_, ()>, q: i32| i64::from(q) * 2)
            .wasi(Wasi::new())
            .enable_fuel()
            .build()
            .unwrap();
        let plugin = h.load_file(data("sleep_hour.wat")).unwrap();

        let mut inst = plugin.instantiate_with((), Limits::new()).unwrap();
        let cancel = inst.cancel_handle();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            cancel.cancel();
        });
        let err = inst.run_command().unwrap_err();
        canceller.join().unwrap();
        assert!(matches!(err.kind(), ErrorKind::Cancelled { .. }), "{err:?}");

        let mut inst = plugin
            .instantiate_with((), Limits::new().fuel(100_000))
            .unwrap();
        let err = inst.run_command().unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::WaitLimit { allowed } if *allowed == Duration::from_micros(100)),
            "{err:?}"
        );

        let deadline = Duration::from_millis(300);
        let mut inst = plugin
            .instantiate_with((), Limits::new().deadline(deadline))
            .unwrap();
        let started = std::time::Instant::now();
        let err = park_on(inst.call_async::<(), ()>("_start", ())).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::DeadlineExceeded { .. }),
            "{err:?}"
        );
        assert!(started.elapsed() < WELL_BEFORE);
    }

    /// An executor an application could bring (not tokio): polls on this
    /// thread and parks until woken.
    fn park_on<F: std::future::Future>(f: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    /// A read-write grant does not let a plugin plant `../secret.txt`
    /// links that the application would follow later: `path_symlink` fails
    /// with EPERM unless the grants opt in with `allow_symlinks`.
    #[test]
    fn symlinks_are_refused_unless_the_grant_allows_them() {
        let work = scratch("symlinks");
        let out = work.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let h = host(Wasi::new().dir_rw(&out, "/out"));
        let plugin = h.load_file(data("plant_symlink.wat")).unwrap();
        let link = out.join("result.txt");

        let mut inst = plugin.instantiate(()).unwrap();
        assert_eq!(inst.run_command().unwrap(), 63, "EPERM");
        assert!(std::fs::symlink_metadata(&link).is_err());

        let allowing = Wasi::new().dir_rw(&out, "/out").allow_symlinks();
        let mut inst = plugin
            .instantiate_with_wasi((), Limits::new(), &allowing)
            .unwrap();
        assert_eq!(inst.run_command().unwrap(), 0);
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("../secret.txt")
        );
        // Read-only stays read-only, allowed or not.
        std::fs::remove_file(&link).unwrap();
        let read_only = Wasi::new().dir_ro(&out, "/out").allow_symlinks();
        let mut inst = plugin
            .instantiate_with_wasi((), Limits::new(), &read_only)
            .unwrap();
        assert_ne!(inst.run_command().unwrap(), 0);
        assert!(std::fs::symlink_metadata(&link).is_err());
    }

    /// A bytes host function works for a WASI plugin, which runs on a
    /// fiber: its output is allocated with an async `cabi_realloc` call.
    #[test]
    fn bytes_host_functions_serve_wasi_plugins() {
        let h = Host::<()>::builder()
            .func_str("app", "shout", |_cx: &mut Ctx<'_, ()>, s: &str| {
                Ok::<String, BoxError>(s.to_uppercase())
            })
            .wasi(Wasi::new())
            .build()
            .unwrap();
        let plugin = h
            .load_wat(
                "shouter",
                r#"(module
                     (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
                     (import "app" "shout" (func $shout (param i32 i32 i32)))
                     (memory (export "memory") 1)
                     (global $next (mut i32) (i32.const 4096))
                     (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
                       (local $p i32)
                       (local.set $p (global.get $next))
                       (global.set $next (i32.add (global.get $next) (local.get 3)))
                       (local.get $p))
                     (data (i32.const 16) "quiet")
                     ;; shout("quiet") and return the (ptr, len) it got at 64
                     (func (export "run") (result i32 i32)
                       (call $shout (i32.const 16) (i32.const 5) (i32.const 64))
                       (i32.load (i32.const 64)) (i32.load (i32.const 68))))"#,
            )
            .unwrap();
        assert!(plugin.needs_async());
        let mut inst = plugin.instantiate(()).unwrap();
        let (ptr, len) = inst.call::<(), (u32, u32)>("run", ()).unwrap();
        assert_eq!(&inst.memory()[ptr as usize..(ptr + len) as usize], b"QUIET");
    }
}

/// WASI arguments wasmtime-wasi refuses to decode end the call with their
/// own kind, naming the function when wasmtime-wasi does; a request past
/// wasmtime-wasi's own size bound stays its catch-all error, refused before
/// anything is allocated. The host goes on working.
#[cfg(feature = "wasi")]
#[test]
fn wasi_arguments_wasmtime_wasi_refuses() {
    use spindle_runtime::{ErrorKind, Host, Limits, Wasi};
    let host = Host::<()>::builder().wasi(Wasi::new()).build().unwrap();
    let run = |body: &str| {
        let wat = format!(
            r#"(module
              (import "wasi_snapshot_preview1" "clock_time_get"
                (func $clock (param i32 i64 i32) (result i32)))
              (import "wasi_snapshot_preview1" "random_get"
                (func $random (param i32 i32) (result i32)))
              (memory (export "memory") 1)
              (func (export "_start") (drop {body})))"#
        );
        let plugin = host.load_wat("refused", &wat).unwrap();
        let mut inst = plugin
            .instantiate_with_wasi((), Limits::new(), &Wasi::new())
            .unwrap();
        inst.run_command()
    };

    let err = run("(call $clock (i32.const 99) (i64.const 0) (i32.const 8))").unwrap_err();
    match err.kind() {
        ErrorKind::WasiArgument {
            function: Some(function),
            problem,
            backtrace,
        } => {
            assert_eq!(function, "wasi_snapshot_preview1::clock_time_get");
            assert_eq!(problem, "Invalid enum value Clockid");
            assert!(!backtrace.frames().is_empty(), "{err:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "the plugin called `wasi_snapshot_preview1::clock_time_get` with an argument WASI \
         refuses: Invalid enum value Clockid"
    );

    let err = run("(call $random (i32.const 65530) (i32.const 100))").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::WasiArgument { function: None, problem, .. }
                if problem == "Pointer out of bounds: Region { start: 65530, len: 100 }"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the plugin called WASI with an argument it refuses: \
         Pointer out of bounds: Region { start: 65530, len: 100 }"
    );

    let err = run("(call $random (i32.const 0) (i32.const 0x70000000))").unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Wasmtime(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("requested len 1879048192 exceeds limit 67108864"),
        "{err}"
    );

    assert_eq!(
        run("(call $random (i32.const 0) (i32.const 16))").unwrap(),
        0
    );
}
