//! Calls with wasm values: typed (`call`, `Func::call`, `call_async`,
//! resumable `start`), a WASI command's `_start`, and values typed only at
//! run time (`call_dynamic`).

use std::any::Any;
use std::marker::PhantomData;

use wasmtime::{TypedFunc, Val, ValType};

use super::{Instance, START, Way, cached, enter};
use crate::classify::{classify, ok_if_exit_zero};
use crate::error::{Error, ErrorKind};
use crate::exchange::activate;
use crate::resumable::Call;
use crate::types::{Signature, Values};
use crate::waits::{CallWatch, Watched};

impl<T: 'static> Instance<T> {
    /// Calls export `name` with typed arguments:
    /// `instance.call::<(i32, i32), i32>("add", (2, 3))`.
    ///
    /// The first call of a name looks the export up and checks its type;
    /// later calls with the same types reuse that check. For hot loops,
    /// [`Instance::func`] also skips the name lookup.
    pub fn call<P: Values, R: Values>(&mut self, name: &str, args: P) -> Result<R, Error> {
        let slot = cached(&self.typed, name);
        let cached = slot.and_then(|i| self.typed[i].1.downcast_ref::<TypedFunc<P, R>>());
        let func = match cached {
            Some(f) => f,
            None => {
                let export = self.typed_export::<P, R>(name)?;
                keep_typed(&mut self.typed, name, slot, export)
            }
        };
        let mut entry = enter(&mut self.store, &self.arming, self.async_call, Way::Here)?;
        match entry.call(func, args) {
            Ok(r) => Ok(r),
            Err(e) => ok_if_exit_zero(entry.fail(e)),
        }
    }

    /// Runs the plugin as a WASI command: calls its `_start` and returns
    /// its exit code, 0 when `_start` returns and the code it gave
    /// `proc_exit` otherwise (a non-zero code is a result here, not an
    /// error). Every other failure is an error as in [`Instance::call`];
    /// a plugin without `_start` is [`ErrorKind::MissingExport`].
    pub fn run_command(&mut self) -> Result<i32, Error> {
        match self.call::<(), ()>(START, ()) {
            Ok(()) => Ok(0),
            Err(e) => match e.kind() {
                ErrorKind::Exit { code } => Ok(*code),
                _ => Err(e),
            },
        }
    }

    /// Calls export `name` as a future, for applications with their own async
    /// executor: async host functions may then await I/O with the executor's
    /// wakers. Suspending ([`Ctx::suspend`](crate::Ctx::suspend)) is for
    /// [`Instance::start`] and fails here with
    /// [`ErrorKind::CannotSuspend`](crate::ErrorKind::CannotSuspend).
    /// Dropping the future cancels the call like dropping a [`Call`].
    pub async fn call_async<P: Values, R: Values>(
        &mut self,
        name: &str,
        args: P,
    ) -> Result<R, Error>
    where
        T: Send,
    {
        let func = self.typed_export::<P, R>(name)?;
        let entry = enter(&mut self.store, &self.arming, self.async_call, Way::Future)?;
        let budget = entry.budget;
        let watch = CallWatch::of(entry.store.data());
        match Watched::new(func.call_async(entry.store, args), watch).await {
            Ok(r) => Ok(r),
            Err(e) => ok_if_exit_zero(classify(e, budget)),
        }
    }

    /// Starts a resumable call of export `name`: nothing runs until
    /// [`Call::run`]. Host functions registered with
    /// [`HostBuilder::func_async`](crate::HostBuilder::func_async) may then
    /// suspend it with [`Ctx::suspend`](crate::Ctx::suspend), handing a `Y`
    /// to the application, which continues it with [`Call::resume`] and an
    /// `In`.
    ///
    /// The limits apply to the whole call, across suspensions: one fuel
    /// budget, and a deadline that counts running time but not time spent
    /// suspended. The instance stays borrowed until the `Call` is dropped;
    /// dropping it before it finishes cancels the plugin call.
    pub fn start<P: Values, R: Values, Y: 'static, In: Send + 'static>(
        &mut self,
        name: &str,
        args: P,
    ) -> Result<Call<'_, R, Y, In>, Error>
    where
        T: Send,
    {
        let func = self.typed_export::<P, R>(name)?;
        let entry = enter(
            &mut self.store,
            &self.arming,
            self.async_call,
            Way::Resumable,
        )?;
        let budget = entry.budget;
        let store = entry.store;
        let exchange = store
            .data_mut()
            .exchange
            .get_or_insert_with(Default::default)
            .clone();
        activate(&exchange);
        let watch = CallWatch::of(store.data());
        let future = Box::pin(async move { func.call_async(store, args).await });
        Ok(Call::new(future, exchange, budget, watch))
    }

    /// Looks export `name` up once and checks its signature, for repeated calls.
    pub fn func<P: Values, R: Values>(&mut self, name: &str) -> Result<Func<'_, T, P, R>, Error> {
        let func = self.typed_export::<P, R>(name)?;
        Ok(Func {
            instance: self,
            func,
            _marker: PhantomData,
        })
    }

    /// Calls export `name` with values whose types are known only at run
    /// time (a command line, a script). Same limits and errors as
    /// [`Instance::call`]; a wrong argument count or type is
    /// [`ErrorKind::ExportSignature`].
    pub fn call_dynamic(&mut self, name: &str, args: &[Val]) -> Result<Vec<Val>, Error> {
        let func = self.export(name)?;
        let ty = func.ty(&self.store);
        let given: Option<Vec<ValType>> = args
            .iter()
            .map(|a| match a {
                Val::I32(_) => Some(ValType::I32),
                Val::I64(_) => Some(ValType::I64),
                Val::F32(_) => Some(ValType::F32),
                Val::F64(_) => Some(ValType::F64),
                _ => None,
            })
            .collect();
        let fits = given.as_ref().is_some_and(|g| {
            g.len() == ty.params().len() && g.iter().zip(ty.params()).all(|(a, b)| a.matches(&b))
        });
        if !fits {
            return Err(ErrorKind::ExportSignature {
                name: name.to_string(),
                expected: Signature::new(given.unwrap_or_default(), ty.results().collect()),
                found: Signature::from_func_type(&ty),
            }
            .into());
        }
        let mut results = vec![Val::I32(0); ty.results().len()];
        let mut entry = enter(&mut self.store, &self.arming, self.async_call, Way::Here)?;
        match entry.call_untyped(func, args, &mut results) {
            Ok(()) => Ok(results),
            Err(e) => {
                let e = entry.fail(e);
                match e.kind() {
                    // proc_exit(0) ends a call without results normally.
                    ErrorKind::Exit { code: 0 } if results.is_empty() => Ok(results),
                    _ => Err(e),
                }
            }
        }
    }
}

/// Keeps `export` in the typed cache (in `slot` when its name is there with
/// other types) and returns it from there. Over the cache field alone, so
/// the caller can go on to borrow the instance's store.
#[cold]
fn keep_typed<'c, P: Values, R: Values>(
    typed: &'c mut Vec<(Box<str>, Box<dyn Any + Send>)>,
    name: &str,
    slot: Option<usize>,
    export: TypedFunc<P, R>,
) -> &'c TypedFunc<P, R> {
    let export: Box<dyn Any + Send> = Box::new(export);
    let i = match slot {
        Some(i) => {
            typed[i].1 = export;
            i
        }
        None => {
            typed.push((name.into(), export));
            typed.len() - 1
        }
    };
    typed[i]
        .1
        .downcast_ref::<TypedFunc<P, R>>()
        .expect("just stored with this type")
}

/// An export looked up and type-checked once, callable many times.
pub struct Func<'i, T: 'static, P, R> {
    instance: &'i mut Instance<T>,
    func: TypedFunc<P, R>,
    _marker: PhantomData<fn(P) -> R>,
}

impl<T: 'static, P: Values, R: Values> Func<'_, T, P, R> {
    /// Calls the export.
    #[inline]
    pub fn call(&mut self, args: P) -> Result<R, Error> {
        let i = &mut *self.instance;
        let mut entry = enter(&mut i.store, &i.arming, i.async_call, Way::Here)?;
        match entry.call(&self.func, args) {
            Ok(r) => Ok(r),
            Err(e) => ok_if_exit_zero(entry.fail(e)),
        }
    }

    /// The instance this export belongs to.
    pub fn instance(&mut self) -> &mut Instance<T> {
        self.instance
    }
}
