//! Calling exports with bytes and strings through the guest contract
//! (docs/guest-contract.md): the host side of `call_bytes` and `call_str`.

use wasmtime::Memory;

use super::{Instance, Way, cached, enter};
use crate::abi::{self, ListFunc, Outcome, PostFunc};
use crate::error::{Error, ErrorKind};

/// An export of the contract, looked up and type-checked once per name.
pub(super) struct ListExport {
    func: ListFunc,
    post: Option<PostFunc>,
    /// The plugin's `memory`, checked with the export.
    memory: Memory,
}

impl<T: 'static> Instance<T> {
    /// Calls export `name` with `input` and returns its output, through the
    /// guest contract: the input is copied into memory allocated with the
    /// plugin's `cabi_realloc`, the export returns a result area with its
    /// output or an error message, and `cabi_post_<name>` (if exported) is
    /// called so the plugin can free it. The whole exchange is one call
    /// under the instance's limits.
    ///
    /// A plugin's error result is [`ErrorKind::GuestError`]; an output over
    /// [`Limits::max_output_bytes`](crate::Limits::max_output_bytes) is
    /// [`ErrorKind::OutputLimit`]; pointers outside the plugin's memory and
    /// a failing allocator have their own kinds too. The instance can be
    /// called again after any of them.
    pub fn call_bytes(&mut self, name: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        // One allocation of the output's size, not a growing buffer.
        self.call_list(name, input, |_, bytes| Ok(bytes.to_vec()))
    }

    /// [`Instance::call_bytes`] into a buffer the caller reuses: `out` is
    /// cleared, then holds the output (on error it is left empty).
    pub fn call_bytes_into(
        &mut self,
        name: &str,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        out.clear();
        self.call_list(name, input, |_, bytes| {
            out.extend_from_slice(bytes);
            Ok(())
        })
    }

    /// [`Instance::call_bytes`] for UTF-8 text: an output that is not UTF-8
    /// is [`ErrorKind::InvalidUtf8`].
    pub fn call_str(&mut self, name: &str, input: &str) -> Result<String, Error> {
        self.call_list(
            name,
            input.as_bytes(),
            |name, bytes| match std::str::from_utf8(bytes) {
                Ok(s) => Ok(s.to_owned()),
                Err(e) => Err(abi::not_utf8(name, "output", bytes, e)),
            },
        )
    }

    fn call_list<R>(
        &mut self,
        name: &str,
        input: &[u8],
        lift: impl FnOnce(&str, &[u8]) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let slot = match cached(&self.lists, name) {
            Some(i) => i,
            None => self.check_list_export(name)?,
        };
        let Ok(len) = u32::try_from(input.len()) else {
            return Err(ErrorKind::InputTooLarge {
                function: name.to_string(),
                len: input.len(),
            }
            .into());
        };
        let mut entry = enter(&mut self.store, &self.arming, self.async_call, Way::Here)?;
        // Borrowed, not cloned: cloning a `TypedFunc` clones its registered
        // type (several atomic operations), which once made a 1 KiB echo
        // call 2.8 times the raw wasmtime time (BENCHMARKS.md).
        let export = &self.lists[slot].1;
        let memory = export.memory;
        let realloc = self.realloc.as_ref().expect("check_list_export set it");

        let ptr = entry
            .call(realloc, (0, 0, abi::LIST_ALIGN, len))
            .map_err(|e| abi::allocator_failed(name, len, e, entry.budget))?;
        let mem = memory.data_mut(&mut *entry.store);
        let r = abi::check_allocation(name, ptr, len, mem.len())?;
        mem[r].copy_from_slice(input);

        let area = entry
            .call(&export.func, (ptr, len))
            .map_err(|e| entry.fail(e))?;
        let mem = memory.data(&*entry.store);
        let max_error = self.arming.max_error;
        let lifted =
            abi::decode_result(name, mem, area, self.arming.max_output).and_then(|outcome| {
                match outcome {
                    Outcome::Ok(r) => lift(name, &mem[r]),
                    Outcome::Err(r) => Err(ErrorKind::GuestError {
                        function: name.to_string(),
                        message: abi::error_message(&mem[r], max_error),
                    }
                    .into()),
                }
            });
        // Called whatever the host made of the result, so that a plugin's
        // memory stays flat even when its results are refused.
        if let Some(post) = &export.post {
            let freed = entry.call(post, area).map_err(|e| entry.fail(e));
            if lifted.is_ok() {
                freed?;
            }
        }
        lifted
    }

    /// Looks export `name` up for its first bytes call, checks it and the
    /// contract's other exports, and keeps it in `lists`: a name is cached
    /// only once everything a bytes call needs is there.
    #[cold]
    fn check_list_export(&mut self, name: &str) -> Result<usize, Error> {
        let func = self.typed_export::<(u32, u32), u32>(name)?;
        let post_name = abi::post_name(name);
        let post = match self.instance.get_func(&mut self.store, &post_name) {
            None => None,
            Some(p) => Some(p.typed::<u32, ()>(&self.store).map_err(|_| {
                abi::contract(name, format!("its `{post_name}` is not (func (param i32))"))
            })?),
        };
        let memory = self.contract_exports(name)?;
        self.lists
            .push((name.into(), ListExport { func, post, memory }));
        Ok(self.lists.len() - 1)
    }

    /// The plugin's `memory`, with its `cabi_realloc` checked and cached.
    fn contract_exports(&mut self, name: &str) -> Result<Memory, Error> {
        let Some(memory) = self.store.data().memory else {
            return Err(abi::contract(name, "it exports no memory named `memory`"));
        };
        if self.realloc.is_some() {
            return Ok(memory);
        }
        let Some(func) = self.instance.get_func(&mut self.store, abi::REALLOC) else {
            return Err(abi::contract(name, "it exports no function `cabi_realloc`"));
        };
        let realloc = func
            .typed::<(u32, u32, u32, u32), u32>(&self.store)
            .map_err(|_| {
                abi::contract(
                    name,
                    "its `cabi_realloc` is not (func (param i32 i32 i32 i32) (result i32))",
                )
            })?;
        self.realloc = Some(realloc);
        Ok(memory)
    }
}
