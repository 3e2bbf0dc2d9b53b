import Foundation
import Synchronization
import Subprocess
import SystemPackage

/// Ends the commands of a process that died.
///
/// A command must not outlive its worker: a worker that is killed (`kill -9`, a crash) loses its
/// lease and the task runs again elsewhere, so a command left running would be a second copy. Each
/// process that runs commands therefore starts one reaper, a `/bin/sh` loop in a session of its
/// own that reads from a socket whose other end only this process and its commands' shells hold.
/// A command's shell first writes `+PGID` (its own process group) to that socket, as its standard
/// input, and then replaces its standard input with /dev/null; when the command has ended, the
/// worker kills what is left of the group and writes `-PGID`. When this process ends, however it
/// ends, the reaper reads end of file and kills every group still registered.
///
/// The shell registers itself before it runs anything of the command's, so there is no moment in
/// which a command runs unregistered. A group is unregistered as soon as it has been killed, so
/// the reaper does not hold on to numbers the system may give to new processes.
final class CommandReaper: Sendable {
    static let shared = CommandReaper()

    /// The prologue of every command's script: register, then read nothing from the socket.
    static let prologue = "echo \"+$$\" >&0; exec 0</dev/null\n"

    private static let script = """
        live=' '
        while read -r line; do
          case $line in
            +*) live="$live${line#+} " ;;
            -*) p=${line#-}
                case $live in *" $p "*) live="${live%% $p *} ${live#* $p }" ;; esac ;;
          esac
        done
        for p in $live; do kill -KILL -$p; done
        """

    private struct Running: Sendable {
        /// This process's end of the socket; the commands get it as their standard input.
        var socket: FileDescriptor
        var generation: Int
        /// Fired once the reaper's process exists (or could not be started).
        var started: OneTimeSignal
    }

    private let state = Mutex<(running: Running?, generation: Int)>((nil, 0))

    /// The socket a command gets as its standard input, starting a reaper first when none runs.
    /// Returns only once the reaper's process exists: a command that registered with a reaper
    /// still to be started would outlive a worker killed in between.
    func lifeline() async throws -> FileDescriptor {
        let running = try state.withLock { state -> Running in
            if let running = state.running { return running }
            var ends: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
                throw EngineError("cannot create the command reaper's socket: \(String(cString: strerror(errno)))")
            }
            state.generation += 1
            let generation = state.generation
            let reaperEnd = FileDescriptor(rawValue: ends[0])
            var options = PlatformOptions()
            options.createSession = true
            let started = OneTimeSignal()
            // Started, then waited for, in the background; should it end, the next command starts another.
            Task.detached { [self] in
                _ = try? await Subprocess.run(
                    .path("/bin/sh"), arguments: ["-c", Self.script], environment: .inherit, platformOptions: options,
                    input: .fileDescriptor(reaperEnd, closeAfterSpawningProcess: true), output: .discarded, error: .discarded
                ) { _ in started.fire() }
                started.fire()
                self.state.withLock { state in
                    guard state.running?.generation == generation else { return }
                    try? state.running?.socket.close()
                    state.running = nil
                }
            }
            let running = Running(socket: FileDescriptor(rawValue: ends[1]), generation: generation, started: started)
            state.running = running
            return running
        }
        await running.started.wait()
        return running.socket
    }

    /// Kills what is left of a command's process group and takes it off the reaper's list.
    func release(processGroup: pid_t) {
        kill(-processGroup, SIGKILL)
        let line = Array("-\(processGroup)\n".utf8)
        state.withLock { state in
            guard let socket = state.running?.socket else { return }
            _ = line.withUnsafeBytes { send(socket.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
    }
}

/// Fired once; whoever waits, before or after, goes on from then.
private final class OneTimeSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.fired else { return [] }
            state.fired = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { state -> Bool in
                if !state.fired { state.waiting.append(continuation) }
                return state.fired
            }
            if fired { continuation.resume() }
        }
    }
}
