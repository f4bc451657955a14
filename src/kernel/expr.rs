//! How `map_kernel!` reads an expression for its CPU side.

/// The CPU side of an expression kernel's text: every `a / b` becomes
/// `fns::div(a, b)` and every `a % b` becomes `fns::rem(a, b)`, read with Rust's
/// precedence, so that integer division follows WGSL's rules on the CPU as it
/// does on the GPU (`x / 0 == x`, `x % 0 == 0`, `i32::MIN / -1 == i32::MIN`)
/// instead of panicking. Everything else is kept as written.
///
/// How it reads: a *term* is a run of operands joined by `*`, `/` and `%`
/// (which bind tighter than every other binary operator and associate to the
/// left); an *operand* is a literal, a name, a call or a parenthesised group,
/// after any unary `-` and `!`. Any other token (a `,` too) ends a term and is
/// copied as it is. The inside of a group and a call's arguments are read the
/// same way, by an expansion of their own that puts back the parentheses (and
/// the function's name).
///
/// Each step reads an operand and the operator after it; a group's or a call's
/// expansion adds its depth to its caller's. So the default `recursion_limit`
/// of 128 allows expressions of about 200 tokens.
#[doc(hidden)]
#[macro_export]
macro_rules! __kernel_expr {
    (@start $($e:tt)*) => {
        $crate::__kernel_expr!(@operand [] first [] [] [] $($e)*)
    };
    // `@operand [wrapper] kind [output so far] [the term's left side] [unary
    // prefixes] tokens`: `kind` says how the next operand joins the left side;
    // the output ends up as `wrapper(output)`.
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] - $($rest:tt)*) => {
        $crate::__kernel_expr!(@operand [$($w)*] $k [$($out)*] [$($acc)*] [$($pre)* -] $($rest)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] ! $($rest:tt)*) => {
        $crate::__kernel_expr!(@operand [$($w)*] $k [$($out)*] [$($acc)*] [$($pre)* !] $($rest)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] $f:ident ($($args:tt)*) $($rest:tt)*) => {
        $crate::__kernel_expr!(@next [$($w)*] $k [$($out)*] [$($acc)*]
            [$($pre)* $crate::__kernel_expr!(@operand [$f] first [] [] [] $($args)*)] $($rest)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] ($($inner:tt)*) $($rest:tt)*) => {
        $crate::__kernel_expr!(@next [$($w)*] $k [$($out)*] [$($acc)*]
            [$($pre)* $crate::__kernel_expr!(@operand [] first [] [] [] $($inner)*)] $($rest)*)
    };
    // Rust-only syntax (methods, fields, paths, casts), kept so that the CPU
    // side compiles and the kernel fails naga's validation with its text.
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] $x:tt . $m:ident ($($args:tt)*) $($rest:tt)*) => {
        $crate::__kernel_expr!(@next [$($w)*] $k [$($out)*] [$($acc)*]
            [$($pre)* $crate::__kernel_expr!(@operand [$x . $m] first [] [] [] $($args)*)] $($rest)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] $x:tt . $m:tt $($rest:tt)*) => {
        $crate::__kernel_expr!(@next [$($w)*] $k [$($out)*] [$($acc)*] [$($pre)* $x . $m] $($rest)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] $a:ident :: $b:ident $($rest:tt)*) => {
        $crate::__kernel_expr!(@next [$($w)*] $k [$($out)*] [$($acc)*] [$($pre)* $a :: $b] $($rest)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] $x:tt as $t:ident $($rest:tt)*) => {
        $crate::__kernel_expr!(@next [$($w)*] $k [$($out)*] [$($acc)*] [$($pre)* $x as $t] $($rest)*)
    };
    (@operand [$($w:tt)*] first [$($out:tt)*] [] []) => {
        $($w)* ($($out)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*]) => {
        compile_error!("map_kernel!: the expression ends with an operator; finish it with an operand")
    };
    // A literal or a name, and what follows it.
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] $x:tt * $($rest:tt)*) => {
        $crate::__kernel_expr!(@operand [$($w)*] mul [$($out)*]
            [$crate::__kernel_expr!(@join $k [$($acc)*] [$($pre)* $x])] [] $($rest)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] $x:tt / $($rest:tt)*) => {
        $crate::__kernel_expr!(@operand [$($w)*] div [$($out)*]
            [$crate::__kernel_expr!(@join $k [$($acc)*] [$($pre)* $x])] [] $($rest)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] $x:tt % $($rest:tt)*) => {
        $crate::__kernel_expr!(@operand [$($w)*] rem [$($out)*]
            [$crate::__kernel_expr!(@join $k [$($acc)*] [$($pre)* $x])] [] $($rest)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] $x:tt $sep:tt $($rest:tt)*) => {
        $crate::__kernel_expr!(@operand [$($w)*] first
            [$($out)* $crate::__kernel_expr!(@join $k [$($acc)*] [$($pre)* $x]) $sep] [] [] $($rest)*)
    };
    (@operand [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($pre:tt)*] $x:tt) => {
        $($w)* ($($out)* $crate::__kernel_expr!(@join $k [$($acc)*] [$($pre)* $x]))
    };
    // `@next`: as the last five rules, for an operand already read (a call, a
    // group, or Rust-only syntax). Kept apart from them so that a literal or a
    // name, the common operand, costs one expansion step rather than two.
    (@next [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($o:tt)*] . $m:ident ($($args:tt)*) $($rest:tt)*) => {
        $crate::__kernel_expr!(@next [$($w)*] $k [$($out)*] [$($acc)*]
            [$crate::__kernel_expr!(@operand [$($o)* . $m] first [] [] [] $($args)*)] $($rest)*)
    };
    (@next [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($o:tt)*] . $m:tt $($rest:tt)*) => {
        $crate::__kernel_expr!(@next [$($w)*] $k [$($out)*] [$($acc)*] [$($o)* . $m] $($rest)*)
    };
    (@next [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($o:tt)*] as $t:ident $($rest:tt)*) => {
        $crate::__kernel_expr!(@next [$($w)*] $k [$($out)*] [$($acc)*] [$($o)* as $t] $($rest)*)
    };
    (@next [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($o:tt)*] * $($rest:tt)*) => {
        $crate::__kernel_expr!(@operand [$($w)*] mul [$($out)*]
            [$crate::__kernel_expr!(@join $k [$($acc)*] [$($o)*])] [] $($rest)*)
    };
    (@next [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($o:tt)*] / $($rest:tt)*) => {
        $crate::__kernel_expr!(@operand [$($w)*] div [$($out)*]
            [$crate::__kernel_expr!(@join $k [$($acc)*] [$($o)*])] [] $($rest)*)
    };
    (@next [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($o:tt)*] % $($rest:tt)*) => {
        $crate::__kernel_expr!(@operand [$($w)*] rem [$($out)*]
            [$crate::__kernel_expr!(@join $k [$($acc)*] [$($o)*])] [] $($rest)*)
    };
    (@next [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($o:tt)*] $sep:tt $($rest:tt)*) => {
        $crate::__kernel_expr!(@operand [$($w)*] first
            [$($out)* $crate::__kernel_expr!(@join $k [$($acc)*] [$($o)*]) $sep] [] [] $($rest)*)
    };
    (@next [$($w:tt)*] $k:tt [$($out:tt)*] [$($acc:tt)*] [$($o:tt)*]) => {
        $($w)* ($($out)* $crate::__kernel_expr!(@join $k [$($acc)*] [$($o)*]))
    };
    // An operand joined to its term's left side.
    (@join first [] [$($o:tt)*]) => {
        $($o)*
    };
    (@join mul [$($acc:tt)*] [$($o:tt)*]) => {
        $($acc)* * $($o)*
    };
    (@join div [$($acc:tt)*] [$($o:tt)*]) => {
        $crate::kernel::fns::div($($acc)*, $($o)*)
    };
    (@join rem [$($acc:tt)*] [$($o:tt)*]) => {
        $crate::kernel::fns::rem($($acc)*, $($o)*)
    };
}
